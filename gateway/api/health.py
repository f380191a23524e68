"""Liveness, readiness and Prometheus metrics: no authentication, cheap enough to poll often."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.common import json_response, services
from gateway.store import migrate

routes = web.RouteTableDef()
READINESS: web.AppKey[Callable[[], dict[str, bool]]] = web.AppKey("readiness")
HEALTH_DB = web.AppKey("health_db", asyncpg.Pool)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    registry = services(request).metrics.registry
    headers = {"Content-Type": CONTENT_TYPE_LATEST}
    return web.Response(body=generate_latest(registry), headers=headers)


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = dict(request.app[READINESS]())
    try:
        db = request.app.get(HEALTH_DB) or services(request).db
        async with db.acquire(timeout=2) as connection:
            version = await migrate.applied_version(connection)
        checks["database"] = True
        checks["migrations"] = version == migrate.latest_version()
    except Exception:  # any failure at all means "not ready"
        checks["database"] = checks["migrations"] = False
    ready = all(checks.values())
    response = json_response({"status": "ready" if ready else "not ready", "checks": checks})
    response.set_status(200 if ready else 503)
    return response
