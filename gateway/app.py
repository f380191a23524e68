"""The aiohttp application: routes, middlewares, and one cleanup context per resource.

Start-up order: database pool (migrated) → HTTP client → connector registry, listener,
dispatcher and maintenance. Shutdown runs the other way: the dispatcher hands back what it
holds before the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api import (
    console,
    dataconnectors,
    dataconnectortypes,
    deliveries,
    devices,
    events,
    health,
    members,
    oauth,
    openapi,
    projects,
    roles,
    serviceaccounts,
    signing_keys,
    standard_webhooks,
    stream,
)
from gateway.api.admission import INGEST_GATE, IngestGate
from gateway.api.common import DISPATCH, SERVICES, Services
from gateway.api.errors import error_middleware
from gateway.api.probe_server import ProbeServer
from gateway.api.ratelimit import AUTH_FAILURES, FailureLimiter
from gateway.api.readiness import DATABASE_CHECK, DatabaseCheck
from gateway.clock import Clock, system_clock
from gateway.config import Settings
from gateway.dispatch import maintenance
from gateway.dispatch.attempt_log import AttemptLog, SamplePusher
from gateway.dispatch.dispatcher import Dispatcher
from gateway.dispatch.listener import Listener
from gateway.dispatch.registry import ConnectorRegistry
from gateway.metrics import Metrics
from gateway.push import asymmetric
from gateway.push import post as push
from gateway.push.http_client import HttpClient
from gateway.push.senders import Options, Senders
from gateway.store import create_pool, migrate, secrets

log = structlog.get_logger(__name__)

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
METRICS = web.AppKey("metrics", Metrics)
HTTP_CLIENT = web.AppKey("http_client", HttpClient)
PROBE_SERVER = web.AppKey("probe_server", ProbeServer)
SENDERS = web.AppKey("senders", Senders)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
REGISTRY = web.AppKey("registry", ConnectorRegistry)
SIGNER = web.AppKey("signer", asymmetric.AsymmetricSigner)
SIGNING_KEY_REFRESH = 5.0  # seconds: how soon a rotation made elsewhere is used here
TASKS = web.AppKey("tasks", dict[str, asyncio.Task[None]])


def create_app(
    settings: Settings, *, clock: Clock = system_clock, metrics: Metrics | None = None
) -> web.Application:
    """The gateway as an aiohttp application; `settings.database_url` must be set."""
    if not settings.database_url:
        raise ValueError("create_app needs settings.database_url")
    app = web.Application(
        middlewares=[_metrics_middleware, error_middleware, console.session_middleware],
        client_max_size=settings.max_body,
    )
    app[TASKS] = {}
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = metrics or Metrics()
    app[AUTH_FAILURES] = FailureLimiter(settings.auth_failure_limit)
    app[INGEST_GATE] = IngestGate(settings.ingest_concurrency, settings.ingest_queue)
    for module in (
        dataconnectors, deliveries, devices, events, oauth, health, openapi, signing_keys
    ):
        app.add_routes(module.routes)
    for module in (
        dataconnectortypes, standard_webhooks, stream, projects, serviceaccounts, members, roles,
        console,
    ):
        app.add_routes(module.routes)
    app[health.READINESS] = lambda: _readiness(app)
    app.cleanup_ctx.extend([_database, _http_client, _signing, _delivery])
    app.cleanup_ctx.extend([stream.streaming, projects.purging, _probes])
    app.on_shutdown.append(stream.end_streams)
    app.on_shutdown.append(_draining)
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """Options of aiohttp's server (`run_app`, `AppRunner`) that bound what a slow client holds.

    aiohttp has no timeout on reading a request's headers, but its keep-alive timer runs from
    the moment a connection opens and from each answer, and closes the connection if no whole
    request head has arrived by then: set to the client timeout, it is the header timeout.
    Bodies are timed where they are read (`read_json`, the token form).
    """
    return {"keepalive_timeout": settings.client_timeout}


def _readiness(app: web.Application) -> dict[str, bool]:
    settings = app[SETTINGS]
    if not settings.dispatcher:
        return {}
    dispatcher = app.get(DISPATCHER)
    return {"dispatcher": dispatcher is not None and dispatcher.running}


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url is not None
    db = await create_pool(settings.database_url, settings.pool_size)
    try:
        async with db.acquire() as connection:
            await migrate.migrate(connection)
            box = await secrets.open_box(connection, settings.secret_key, settings.data_dir)
    except BaseException:
        await db.close()
        raise
    metrics = app[METRICS]
    metrics.pool = db
    app[SERVICES] = Services(
        settings=settings, db=db, clock=app[CLOCK], metrics=metrics, box=box
    )
    app[DATABASE_CHECK] = check = await DatabaseCheck.start(settings.database_url)
    _start(app[TASKS], "readiness", check.run)
    try:
        yield
    finally:
        checking = app[TASKS].pop("readiness")
        checking.cancel()
        await asyncio.gather(checking, return_exceptions=True)
        await check.close()
        await db.close()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = push.http_client(
        timeout=settings.push_timeout,
        concurrency=settings.push_concurrency,
        ca_bundle=settings.ca_bundle,
        public_only=not settings.allow_insecure_targets,
    )
    app[HTTP_CLIENT] = client
    senders = Senders(client, Options(
        settings.push_timeout, not settings.allow_insecure_targets, settings.ca_bundle
    ))  # fmt: skip
    app[SENDERS] = senders
    try:
        yield
    finally:
        await senders.close()
        await client.close()


async def _signing(app: web.Application) -> AsyncIterator[None]:
    """The asymmetric signer with the key every replica shares, kept current after rotations."""
    services = app[SERVICES]
    settings = services.settings
    if settings.asymmetric_signature:
        issuer = asymmetric.issuer(settings.public_url, settings.host, settings.port)
        signer = await asymmetric.load_signer(services.db, services.box, issuer, services.clock())
        app[SIGNER] = signer

        async def refresh_forever() -> None:
            while True:
                await asyncio.sleep(SIGNING_KEY_REFRESH)
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await asymmetric.refresh(signer, services.db, services.box)

        _start(app[TASKS], "signing_key_refresh", refresh_forever)
    yield


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = services.settings
    registry = ConnectorRegistry(services.db, services.box)
    sinks = [AttemptLog(services.clock)] if settings.attempt_log else []
    dispatcher = Dispatcher(
        settings, services.db, app[SENDERS], registry, services.metrics, services.clock,
        sinks, signer=app.get(SIGNER),
    )
    app[deliveries.SAMPLE_PUSHER] = SamplePusher(
        app[SENDERS], services.db, services.clock, signer=app.get(SIGNER)
    )
    app[REGISTRY] = registry
    app[DISPATCHER] = dispatcher
    assert settings.database_url is not None
    listener = Listener(settings.database_url, registry, dispatcher.wake)
    tasks = app[TASKS]
    _start(tasks, "listener", listener.run)
    if settings.dispatcher:
        app[DISPATCH] = dispatcher
        _start(tasks, "dispatcher", dispatcher.run)
        _start(tasks, "maintenance", lambda: maintenance.run(
            services.db, settings, services.metrics, services.clock
        ))
    try:
        yield
    finally:
        await dispatcher.stop(settings.shutdown_timeout)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _probes(app: web.Application) -> AsyncIterator[None]:
    """The probes' own port, when set; it closes first at shutdown, so readiness fails then."""
    settings = app[SETTINGS]
    if settings.probe_port is None:
        yield
        return
    server = ProbeServer(settings.host, settings.probe_port, lambda: health.readiness_checks(app))
    app[PROBE_SERVER] = server
    server.start()
    _start(app[TASKS], "probe_heartbeat", server.run)
    log.info("probes_listening", host=settings.host, port=server.port)
    try:
        yield
    finally:
        await asyncio.to_thread(server.stop)


async def _draining(app: web.Application) -> None:
    """Shutting down: the probe port says not ready while requests in progress finish."""
    if PROBE_SERVER in app:
        app[PROBE_SERVER].draining = True


def _start(
    tasks: dict[str, asyncio.Task[None]],
    name: str,
    run: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    tasks[name] = asyncio.create_task(_supervise(name, run), name=name)


async def _supervise(name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Keep a background task alive: log its failure and start it again after a pause."""
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task_failed", task=name)
            await asyncio.sleep(1.0)


@web.middleware
async def _metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    finally:
        with contextlib.suppress(Exception):
            route = request.match_info.route.resource
            template = route.canonical if route is not None else "unmatched"
            status = response.status if response is not None else 500
            metrics = request.app[METRICS]
            metrics.http_requests.labels(request.method, template, f"{status // 100}xx").inc()
            metrics.http_duration.labels(template).observe(time.perf_counter() - started)
