"""`python -m gateway demo`: the gateway, a receiver that verifies every signature, and a stream
of events from a handful of emulated devices, with live progress until stopped.

Everything runs in this process on loopback and leaves nothing behind: without a configured
database the embedded PostgreSQL runs in a throwaway directory, deleted at the end; with one, the
demo's project (its connector, queue, events and account) is deleted before the demo stops. The
receiver refuses one push in two hundred on purpose, so retries show up too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from gateway import latency
from gateway.api import auth
from gateway.api.common import SERVICES
from gateway.app import METRICS, create_app
from gateway.config import Settings
from gateway.embedded import database, use_uvloop
from gateway.ids import new_id
from gateway.ingest.eventdata import parse_timestamp
from gateway.listen import basic_auth
from gateway.pushcheck import Keys, check_push
from gateway.store import accounts, cleanup

SECRET = "demo-signature-secret-" + "x" * 16
FAILURE_RATE = 1 / 200
CREDENTIALS = "credentials.json"  # in the run's directory, mode 0600
DRAIN_TIMEOUT = 10.0  # seconds the demo waits at the end for pushes still on their way
DEVICES: dict[str, Callable[[], dict[str, Any]]] = {
    "temperature": lambda: {"temperature": {"value": round(random.uniform(18, 24), 2)}},
    "touch": lambda: {"touch": {}},
    "contact": lambda: {"contact": {"state": random.choice(["OPEN", "CLOSED"])}},
    "humidity": lambda: {"humidity": {"temperature": 21.0, "relativeHumidity": 40.0}},
    "co2": lambda: {"co2": {"ppm": random.randint(400, 1200)}},
}
LEGEND = """\
Columns: seconds since start | events the gateway accepted | distinct events the receiver
verified | pushes the gateway scheduled again after a failure | pushes the receiver refused on
purpose | pushes that failed verification (stays 0) | 99th percentile, publish to receiver.
Ctrl-C stops: the demo then waits for pushes on their way, prints a summary and cleans up.
"""


@dataclass
class Receiver:
    """Counts verified pushes and their end-to-end latency; refuses some on purpose."""

    failure_rate: float = FAILURE_RATE
    refused: int = 0
    rejected: int = 0
    seen: set[str] = field(default_factory=set)
    latencies: dict[int, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        verdict = check_push(await request.read(), request.headers, Keys(SECRET))
        if not verdict.verified:
            self.rejected += 1
            return web.Response(status=400, text="Could not verify request.")
        if random.random() < self.failure_rate:
            self.refused += 1
            return web.Response(status=500, text="failing on purpose")
        event = verdict.push["event"]
        self.seen.add(event["eventId"])
        lag = (datetime.now(UTC) - parse_timestamp(event["timestamp"])).total_seconds()
        bucket = latency.bucket_of(lag)
        self.latencies[bucket] = self.latencies.get(bucket, 0) + 1
        return web.Response(text="OK")


@dataclass
class Run:
    """One demo run: where it keeps its files, and what it has counted so far."""

    directory: Path
    receiver: Receiver = field(default_factory=Receiver)
    sent: int = 0
    started: float = field(default_factory=time.monotonic)


async def _serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def _sign_in(run: Run, app: web.Application, address: str, found: dict[str, str]) -> None:
    """The one place the demo shows how to sign in: the console's address when this gateway
    serves one, the account's key id and secret, and the file that keeps them (mode 0600)."""
    path = run.directory / CREDENTIALS
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as output:
        output.write(orjson.dumps(found, option=orjson.OPT_INDENT_2))
    if any(route.canonical.startswith("/console") for route in app.router.resources()):
        print(f"Console:   {address}/console/")
    print(f"Sign in:   key id {found['keyId']}  secret {found['secret']}")
    print(f"           (also in {path}, mode 0600, deleted when the demo stops)")
    print(f"Try:       curl -u {found['keyId']}:{found['secret']} {found['apiUrl']}/dataconnectors")


async def _bootstrap(app: web.Application, address: str) -> dict[str, str]:
    db, now = app[SERVICES].db, datetime.now(UTC)
    project_id = new_id()
    await accounts.create_project(db, project_id, "demo", now)
    made = await auth.create_service_account(db, project_id, auth.DEVELOPER, now)
    return {
        "projectId": project_id, "keyId": made.key_id, "secret": made.secret,
        "email": made.email, "apiUrl": f"{address}/v2/projects/{project_id}",
        "tokenUrl": f"{address}/oauth2/token",
    }  # fmt: skip


async def _publish_until(
    stop: asyncio.Event, client: aiohttp.ClientSession, base: str, devices: list[str], rate: float,
    run: Run,
) -> None:  # fmt: skip
    """Publish at `rate` until `stop`, never leaving a request half-way (the server stops next)."""
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        device_id, device_type = random.choice(devices).split("|")
        url = f"{base}/devices/{device_id}:publish"
        async with client.post(url, json=DEVICES[device_type]()) as answer:
            answer.raise_for_status()
        run.sent += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _retries(app: web.Application) -> int:
    return int(app[METRICS].registry.get_sample_value("gateway_retries_scheduled_total") or 0)


def _progress(run: Run, app: web.Application) -> str:
    receiver = run.receiver
    p99 = latency.quantile(receiver.latencies, 0.99) * 1000
    return (
        f"\r{time.monotonic() - run.started:6.0f} s | published {run.sent:6d} | delivered "
        f"{len(receiver.seen):6d} | retries {_retries(app):4d} | refused {receiver.refused:3d} | "
        f"rejected {receiver.rejected} | p99 publish→receiver {p99:6.1f} ms "
    )


def _summary(run: Run, app: web.Application) -> str:
    receiver, elapsed = run.receiver, time.monotonic() - run.started
    delivered = len(receiver.seen)
    share = 100.0 * delivered / run.sent if run.sent else 100.0
    p50, p99 = (latency.quantile(receiver.latencies, q) * 1000 for q in (0.5, 0.99))
    return (
        f"Summary: {elapsed:.0f} s, {run.sent} events published, {delivered} delivered and "
        f"verified ({share:.1f} %); refused on purpose {receiver.refused}, retries scheduled "
        f"{_retries(app)}, failed verification {receiver.rejected}; "
        f"publish→receiver p50 {p50:.1f} ms, p99 {p99:.1f} ms."
    )


async def _create_resources(client: aiohttp.ClientSession, base: str, port: int) -> list[str]:
    """The connector to the receiver, and one device per type ("<id>|<type>")."""
    connector = {
        "displayName": "demo receiver", "labels": ["name"],
        "httpConfig": {"url": f"http://127.0.0.1:{port}/hook", "signatureSecret": SECRET},
    }  # fmt: skip
    async with client.post(f"{base}/dataconnectors", json=connector) as answer:
        answer.raise_for_status()
    devices = []
    for device_type in DEVICES:
        body = {"type": device_type, "labels": {"name": f"demo {device_type}"}}
        async with client.post(f"{base}/devices", json=body) as answer:
            answer.raise_for_status()
            devices.append(f"{(await answer.json())['name'].split('/')[-1]}|{device_type}")
    return devices


def _stop_events() -> tuple[asyncio.Event, asyncio.Event]:
    """`stop` on the first Ctrl-C or SIGTERM, `hurry` (skip the wait for pushes) on the next."""
    stop, hurry = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: hurry.set() if stop.is_set() else stop.set())
    return stop, hurry


async def _drain(run: Run, hurry: asyncio.Event) -> None:
    """Wait a little for pushes still on their way (retries of refused ones included)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while len(run.receiver.seen) < run.sent and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hurry.wait(), 0.1)
        if hurry.is_set():
            return


def _introduce(where: str, address: str, rate: float) -> None:
    print(f"Live demo: the gateway at {address}, on {where}.")
    print(f"Emulated sensors ({', '.join(DEVICES)}) publish {rate:g} events/s to a project")
    print("whose connector pushes each event to a receiver in this process; it verifies every")
    refusing = f"refuses 1 push in {round(1 / FAILURE_RATE)} on purpose (HTTP 500)"
    print(f"signature and {refusing}, so you see the")
    print("gateway retry. Everything is deleted when the demo stops.\n")


async def _demo(settings: Settings, run: Run, rate: float, duration: float, where: str) -> None:
    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", run.receiver.handle)
    receiver_runner = await _serve(receiver_app, "127.0.0.1", 0)
    try:
        app = create_app(settings)
        runner = await _serve(app, settings.host, settings.port)
        try:
            address = f"http://{settings.host}:{runner.addresses[0][1]}"
            found = await _bootstrap(app, address)
            try:
                _introduce(where, address, rate)
                _sign_in(run, app, address, found)
                await _show(app, run, found, receiver_runner.addresses[0][1], rate, duration)
            finally:
                await cleanup.delete_project(app[SERVICES].db, found["projectId"])
            print(f"Deleted the demo's project {found['projectId']} with its connector and queue.")
        finally:
            await runner.cleanup()
    finally:
        await receiver_runner.cleanup()


async def _show(
    app: web.Application, run: Run, found: dict[str, str], port: int, rate: float, duration: float
) -> None:
    """Publish and show progress until stopped (or `duration`), then wait for pushes on their way
    and print the summary."""
    stop, hurry = _stop_events()
    async with aiohttp.ClientSession(headers=basic_auth(found["keyId"], found["secret"])) as client:
        base = found["apiUrl"]
        devices = await _create_resources(client, base, port)
        print("\n" + LEGEND)
        run.started = time.monotonic()
        publisher = asyncio.create_task(_publish_until(stop, client, base, devices, rate, run))
        while not stop.is_set() and (not duration or time.monotonic() - run.started < duration):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            print(_progress(run, app), end="", flush=True)
        stop.set()
        await publisher
    print("\nStopping: waiting for pushes on their way (Ctrl-C again to skip)…")
    await _drain(run, hurry)
    print(_progress(run, app))
    print(_summary(run, app))


@contextlib.contextmanager
def _throwaway_directory() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="gateway-demo-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_demo(settings: Settings, *, rate: float, duration: float) -> int:
    """Run the demo until Ctrl-C (or `duration` seconds); the receiver runs on loopback."""
    use_uvloop()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # shown at once, piped too
    # The progress line is the demo's output; only problems are logged beside it.
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    with _throwaway_directory() as directory:
        where = settings.database_url and "the configured database"
        where = where or f"a throwaway PostgreSQL in {directory}"
        # Retries come sooner than in production, so the demo shows them within seconds.
        demo_settings = replace(
            settings, allow_insecure_targets=True, retry_base=1.0, data_dir=directory / "postgres"
        )
        try:
            with database(demo_settings) as ready:
                asyncio.run(_demo(ready, Run(directory), rate, duration, where))
        except KeyboardInterrupt:  # while starting: what was made is gone with the directory
            return 130
    return 0
