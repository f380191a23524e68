"""What the gateway's limits cost and buy, on its own (not part of `bench/run.py`):

- `fanout`: the largest publish the limits allow, a batch of 1,000 events into a project with
  GATEWAY_MAX_CONNECTORS (100) connectors, i.e. 100,000 deliveries written by one request;
  against the same batch with 1 connector, measured in the same run.
- `health`: /healthz and /readyz latency, on the main port and on GATEWAY_PROBE_PORT (answered
  by a thread off the event loop), while 300 clients publish batches of 500 events as fast
  as they are answered (honouring 503 + Retry-After), with the ingest bound at its default and,
  as the baseline, with no bound; and with no load at all, the floor of this machine. The
  events acknowledged per second meanwhile show what the bound costs ingest.

    .venv/bin/python bench/limits.py [--only fanout,health] [--seconds 10]

The gateway runs as `python -m gateway serve` (dispatcher off: pushes are not measured) on a
fresh database of the PostgreSQL at 127.0.0.1:5432; health is probed from a process of its own,
a new connection per probe as an orchestrator does.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE = """
import http.client, json, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
found = {"/healthz": [], "/readyz": []}
end = time.monotonic() + seconds
while time.monotonic() < end:
    for path, times in found.items():
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        times.append((time.perf_counter() - started) * 1000 if status == 200 else 1e9)
    time.sleep(0.05)
print(json.dumps(found))
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def gateway(**settings: str) -> AsyncIterator[tuple[str, dict[str, str], int]]:
    """A fresh database and a gateway on it; yields its URL, a developer's Basic header and
    its probe port."""
    name = f"bench_limits_{os.getpid()}_{time.monotonic_ns()}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATABASE_URL": SERVER.rsplit("/", 1)[0] + f"/{name}",
            "GATEWAY_PORT": str(port), "GATEWAY_PROBE_PORT": str(free_port()),
            "GATEWAY_DISPATCHER": "false",
            "GATEWAY_ALLOW_INSECURE_TARGETS": "true", "GATEWAY_LOG_LEVEL": "warning"}
    env |= {f"GATEWAY_{key.upper()}": value for key, value in settings.items()}
    command = [sys.executable, "-m", "gateway"]
    project = orjson.loads(subprocess.check_output(
        [*command, "admin", "create-project", "--name", "bench"], env=env, cwd=ROOT))["projectId"]
    account = orjson.loads(subprocess.check_output(
        [*command, "admin", "create-service-account", "--project", project], env=env, cwd=ROOT))
    process = subprocess.Popen([*command, "serve"], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        token = base64.b64encode(f"{account['keyId']}:{account['secret']}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        yield f"{url}/v2/projects/{project}", headers, int(env["GATEWAY_PROBE_PORT"])
    finally:
        process.terminate()
        process.wait(30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not become ready")


async def post(session: aiohttp.ClientSession, url: str, body: Any, headers: Any) -> Any:
    """POST until answered 200, waiting out every 503's Retry-After as the SDK does."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    while True:
        async with session.post(url, data=data, headers=headers) as answer:
            text = await answer.read()
            if answer.status == 200:
                return orjson.loads(text)
            if answer.status != 503 or "Retry-After" not in answer.headers:
                raise RuntimeError(f"{url}: {answer.status} {text[:200]!r}")
            wait = float(answer.headers["Retry-After"])
        await asyncio.sleep(wait)


async def setup(session: aiohttp.ClientSession, base: str, headers: Any, connectors: int,
                devices: int) -> list[str]:
    for index in range(connectors):
        body = {"httpConfig": {"url": f"http://127.0.0.1:9/{index}"}}
        await post(session, f"{base}/dataconnectors", body, headers)
    made = [await post(session, f"{base}/devices", {"type": "temperature"}, headers)
            for _ in range(devices)]
    return [device["name"].rsplit("/", 1)[1] for device in made]


def batch(devices: list[str], size: int) -> bytes:
    events = [{"device": devices[i % len(devices)], "data": {"temperature": {"value": 20.5}}}
              for i in range(size)]
    return orjson.dumps({"events": events})


async def publish_seconds(connectors: int, repeats: int = 5) -> float:
    """Median seconds of one 1,000-event publish into a project with `connectors` connectors."""
    async with gateway() as (base, headers, _), aiohttp.ClientSession() as session:
        devices = await setup(session, base, headers, connectors, 10)
        times = []
        for _ in range(repeats):
            body = batch(devices, 1000)
            started = time.perf_counter()
            await post(session, f"{base}/devices:publishBatch", body, headers)
            times.append(time.perf_counter() - started)
        return statistics.median(times)


async def fanout() -> None:
    one = await publish_seconds(1)
    full = await publish_seconds(100)
    print(f"fanout  1,000 events x   1 connector : {one * 1000:7.1f} ms per publish")
    print(f"fanout  1,000 events x 100 connectors: {full * 1000:7.1f} ms per publish "
          f"({100_000 / full:,.0f} deliveries/s; {full / one:.1f}x the 1-connector publish)")


async def health_during_load(
    seconds: float, publishers: int = 300, **settings: str
) -> dict[str, list[float]]:
    async with gateway(**settings) as (base, headers, probe_port), aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        devices = await setup(session, base, headers, 1, 10)
        body = batch(devices, 500)
        stop = asyncio.Event()
        acknowledged = 0

        async def publisher() -> None:
            nonlocal acknowledged
            while not stop.is_set():
                await post(session, f"{base}/devices:publishBatch", body, headers)
                acknowledged += 500

        port = base.split(":")[2].split("/")[0]
        load = [asyncio.create_task(publisher()) for _ in range(publishers)]
        probes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", PROBE, str(probed), str(seconds), stdout=subprocess.PIPE
            )
            for probed in (port, probe_port)
        ]
        started = time.perf_counter()
        main, off_loop = [orjson.loads((await p.communicate())[0]) for p in probes]
        rate = acknowledged / (time.perf_counter() - started)
        stop.set()
        await asyncio.gather(*load)
        return {**main, **{f"probe port {path}": times for path, times in off_loop.items()},
                "events/s": [rate]}


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  "
            f"max {ordered[-1]:7.1f} ms  ({len(ordered)} probes)")


async def health(seconds: float) -> None:
    idle = await health_during_load(seconds, publishers=0)
    bounded = await health_during_load(seconds)
    unbounded = await health_during_load(seconds, ingest_concurrency="1000000")
    for path in ("/healthz", "/readyz", "probe port /healthz", "probe port /readyz"):
        print(f"health {path:19} idle (the floor)  : {summary(idle[path])}")
        print(f"health {path:19} bounded (default): {summary(bounded[path])}")
        print(f"health {path:19} unbounded        : {summary(unbounded[path])}")
        ratio = max(unbounded[path]) / max(bounded[path])
        print(f"health {path:19} worst case unbounded / bounded: {ratio:.1f}x")
    for name, run in (("bounded", bounded), ("unbounded", unbounded)):
        print(f"health events acknowledged/s meanwhile, {name:9}: {run['events/s'][0]:,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="fanout,health")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per health run")
    arguments = parser.parse_args()
    steps = arguments.only.split(",")
    if "fanout" in steps:
        asyncio.run(fanout())
    if "health" in steps:
        asyncio.run(health(arguments.seconds))


if __name__ == "__main__":
    main()
