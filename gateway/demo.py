"""`python -m gateway demo`: the gateway, a receiver that verifies every signature, and a stream
of events from a handful of emulated devices, with live progress until stopped.

Everything runs in this process on loopback, on the embedded PostgreSQL unless a database URL is
configured. The receiver fails one push in two hundred on purpose, so retries show up too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import orjson
from aiohttp import web

from gateway import latency
from gateway.api import auth
from gateway.app import METRICS, create_app
from gateway.config import Settings
from gateway.embedded import database, use_uvloop
from gateway.ids import new_id
from gateway.ingest.eventdata import parse_timestamp
from gateway.store import accounts, create_pool

SECRET = "demo-signature-secret-" + "x" * 16
DEVICES: dict[str, Callable[[], dict[str, Any]]] = {
    "temperature": lambda: {"temperature": {"value": round(random.uniform(18, 24), 2)}},
    "touch": lambda: {"touch": {}},
    "contact": lambda: {"contact": {"state": random.choice(["OPEN", "CLOSED"])}},
    "humidity": lambda: {"humidity": {"temperature": 21.0, "relativeHumidity": 40.0}},
    "co2": lambda: {"co2": {"ppm": random.randint(400, 1200)}},
}


@dataclass
class Receiver:
    """Counts verified pushes and their end-to-end latency; fails some on purpose."""

    failure_rate: float = 0.005
    rejected: int = 0
    seen: set[str] = field(default_factory=set)
    latencies: dict[int, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            claims = jwt.decode(request.headers["X-Dt-Signature"], SECRET, algorithms=["HS256"])
            if hashlib.sha256(body).hexdigest() != claims["checksum_sha256"]:
                raise ValueError("checksum mismatch")
        except (KeyError, ValueError, jwt.PyJWTError):
            self.rejected += 1
            return web.Response(status=400, text="Could not verify request.")
        if random.random() < self.failure_rate:
            return web.Response(status=500, text="failing on purpose")
        event = orjson.loads(body)["event"]
        self.seen.add(event["eventId"])
        lag = (datetime.now(UTC) - parse_timestamp(event["timestamp"])).total_seconds()
        bucket = latency.bucket_of(lag)
        self.latencies[bucket] = self.latencies.get(bucket, 0) + 1
        return web.Response(text="OK")


async def _serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _bootstrap(url: str) -> tuple[str, auth.Credentials]:
    db = await create_pool(url, 2)
    try:
        project_id = new_id()
        now = datetime.now(UTC)
        await accounts.create_project(db, project_id, "demo", now)
        credentials = await auth.create_service_account(db, project_id, auth.DEVELOPER, now)
        return project_id, credentials
    finally:
        await db.close()


async def _publish_until(
    stop: asyncio.Event,
    client: aiohttp.ClientSession,
    base: str,
    devices: list[str],
    rate: float,
    sent: list[int],
) -> None:
    """Publish at `rate` until `stop`, never leaving a request half-way (the server stops next)."""
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        device_id, device_type = random.choice(devices).split("|")
        url = f"{base}/devices/{device_id}:publish"
        async with client.post(url, json=DEVICES[device_type]()) as answer:
            answer.raise_for_status()
        sent[0] += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _progress(started: float, sent: int, receiver: Receiver, app: web.Application) -> str:
    retries = int(app[METRICS].registry.get_sample_value("gateway_retries_scheduled_total") or 0)
    p99 = latency.quantile(receiver.latencies, 0.99) * 1000
    return (
        f"\r{time.monotonic() - started:6.0f} s | published {sent:6d} | delivered "
        f"{len(receiver.seen):6d} | retries {retries:4d} | rejected {receiver.rejected} | "
        f"p99 publish→receiver {p99:6.1f} ms "
    )


async def _demo(settings: Settings, rate: float, duration: float) -> None:
    assert settings.database_url is not None
    receiver = Receiver()
    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receiver.handle)
    receiver_runner = await _serve(receiver_app, "127.0.0.1", 0)
    receiver_port = receiver_runner.addresses[0][1]
    app = create_app(settings)
    runner = await _serve(app, settings.host, settings.port)
    project_id, credentials = await _bootstrap(settings.database_url)
    base = f"http://{settings.host}:{runner.addresses[0][1]}/v2/projects/{project_id}"
    basic = base64.b64encode(f"{credentials.key_id}:{credentials.secret}".encode()).decode()
    print(f"gateway on http://{settings.host}:{runner.addresses[0][1]}, project {project_id}")
    print(f"try: curl -u {credentials.key_id}:{credentials.secret} {base}/dataconnectors\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {basic}"}) as client:
        await _create_demo_resources(client, base, receiver_port)
        devices = await _create_devices(client, base)
        sent = [0]
        publisher = asyncio.create_task(_publish_until(stop, client, base, devices, rate, sent))
        started = time.monotonic()
        while not stop.is_set() and (not duration or time.monotonic() - started < duration):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            print(_progress(started, sent[0], receiver, app), end="", flush=True)
        stop.set()
        await publisher
    print("\nstopping…")
    await runner.cleanup()
    await receiver_runner.cleanup()


async def _create_demo_resources(client: aiohttp.ClientSession, base: str, port: int) -> None:
    connector = {
        "displayName": "demo receiver",
        "labels": ["name"],
        "httpConfig": {"url": f"http://127.0.0.1:{port}/hook", "signatureSecret": SECRET},
    }
    async with client.post(f"{base}/dataconnectors", json=connector) as answer:
        answer.raise_for_status()


async def _create_devices(client: aiohttp.ClientSession, base: str) -> list[str]:
    devices = []
    for device_type in DEVICES:
        body = {"type": device_type, "labels": {"name": f"demo {device_type}"}}
        async with client.post(f"{base}/devices", json=body) as answer:
            answer.raise_for_status()
            device_id = (await answer.json())["name"].split("/")[-1]
        devices.append(f"{device_id}|{device_type}")
    return devices


def run_demo(settings: Settings, *, rate: float, duration: float) -> int:
    """Run the demo until Ctrl-C (or `duration` seconds); the receiver runs on loopback."""
    use_uvloop()
    # The progress line is the demo's output; only problems are logged beside it.
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    demo_settings = replace(settings, allow_insecure_targets=True)
    with database(demo_settings) as ready:
        asyncio.run(_demo(ready, rate, duration))
    return 0
