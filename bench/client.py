"""HTTP clients of the benchmark: the gateway's API, the receiver's counters, the load."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

BATCH = 1000  # events per publishBatch request, the API's maximum
PUBLISH_INFLIGHT = 2  # concurrent publishBatch requests while loading
STALL_SECONDS = 30.0  # no new push for this long: the gateway is stuck, not slow


class ApiError(RuntimeError):
    """The gateway's API answered something other than 200."""


class Incomplete(RuntimeError):
    """Not every expected push reached the receiver in time."""


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


@dataclass
class Api:
    """One gateway's REST API with one service account's Basic credentials."""

    session: aiohttp.ClientSession
    base_url: str
    key_id: str
    secret: str

    def _headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.key_id}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        data = orjson.dumps(body) if body is not None else None
        url = f"{self.base_url}/v2/projects/{path}"
        while True:
            async with self.session.request(
                method, url, data=data, headers=self._headers()
            ) as answer:
                text = await answer.read()
                retry_after = answer.headers.get("Retry-After")
                if answer.status == 200:
                    return orjson.loads(text)
                if answer.status != 503 or retry_after is None:
                    raise ApiError(f"{method} {path}: {answer.status} {text[:300]!r}")
            await asyncio.sleep(float(retry_after))  # the gateway is busy: as the SDK does

    async def create_device(self, project: str) -> str:
        made = await self.call("POST", f"{project}/devices", {"type": "temperature", "labels": {}})
        return str(made["name"]).rsplit("/", 1)[1]

    async def create_connector(self, project: str, url: str, secret: str) -> str:
        body = {"displayName": "bench", "httpConfig": {"url": url, "signatureSecret": secret}}
        made = await self.call("POST", f"{project}/dataconnectors", body)
        return str(made["name"]).rsplit("/", 1)[1]

    async def delete_connector(self, project: str, connector: str) -> None:
        await self.call("DELETE", f"{project}/dataconnectors/{connector}")

    async def sync(self, project: str, connector: str) -> None:
        await self.call("POST", f"{project}/dataconnectors/{connector}:sync", {})

    async def publish(self, project: str, events: list[dict[str, Any]]) -> None:
        await self.call("POST", f"{project}/devices:publishBatch", {"events": events})


def temperature_events(devices: list[str], count: int, start: int = 0) -> list[dict[str, Any]]:
    """`count` temperature events whose updateTime is now: the publish time."""
    now = rfc3339(time.time())
    return [
        {
            "device": devices[i % len(devices)],
            "data": {"temperature": {"value": 20 + (i % 100) / 10, "updateTime": now}},
        }
        for i in range(start, start + count)
    ]


async def publish_burst(apis: list[Api], project: str, devices: list[str], total: int) -> float:
    """Publish `total` events as fast as the API acknowledges them; returns the seconds taken.

    Requests alternate between the APIs given (one per gateway process).
    """
    started = time.perf_counter()
    offsets = iter(range(0, total, BATCH))
    targets = itertools.cycle(apis)

    async def worker() -> None:
        for offset in offsets:
            events = temperature_events(devices, min(BATCH, total - offset), offset)
            await next(targets).publish(project, events)

    await asyncio.gather(*(worker() for _ in range(PUBLISH_INFLIGHT)))
    return time.perf_counter() - started


async def publish_paced(
    api: Api, project: str, devices: list[str], rate: float, seconds: float, batch: int
) -> int:
    """Publish `rate` events/s in batches of `batch` for `seconds`; returns events published.

    Each batch is sent on schedule whatever the previous ones are doing (up to 256 in flight),
    so a slow answer shows as latency, not as a lower rate.
    """
    interval = batch / rate
    sends = int(seconds / interval)
    loop = asyncio.get_running_loop()
    started = loop.time()
    inflight = asyncio.Semaphore(256)
    started_sends: list[asyncio.Task[None]] = []

    async def send(index: int) -> None:
        async with inflight:
            await api.publish(project, temperature_events(devices, batch, index * batch))

    try:
        for index in range(sends):
            await asyncio.sleep(max(0.0, started + index * interval - loop.time()))
            started_sends.append(asyncio.create_task(send(index)))
        await asyncio.gather(*started_sends)
    finally:
        for unfinished in started_sends:
            unfinished.cancel()
    return sends * batch


@dataclass
class Receiver:
    """The receiver process's counters."""

    session: aiohttp.ClientSession
    base_url: str

    def url(self, group: str, connector: int | str = 0) -> str:
        return f"{self.base_url}/{group}/{connector}"

    async def reset(self) -> None:
        async with self.session.post(self.base_url + "/reset") as answer:
            answer.raise_for_status()

    async def groups(self) -> dict[str, dict[str, Any]]:
        async with self.session.get(self.base_url + "/stats") as answer:
            return orjson.loads(await answer.read())["groups"]  # type: ignore[no-any-return]

    async def group(self, name: str) -> dict[str, Any]:
        empty = {
            "received": 0,
            "distinct": 0,
            "duplicates": 0,
            "first": 0.0,
            "last": 0.0,
            "verified": 0,
            "badSignatures": 0,
            "paths": 0,
        }
        return (await self.groups()).get(name, empty)

    async def latency(self, name: str) -> dict[str, float]:
        async with self.session.get(f"{self.base_url}/stats/{name}/latency") as answer:
            return orjson.loads(await answer.read())  # type: ignore[no-any-return]

    async def wait_for(
        self, name: str, distinct: int, timeout: float, stall: float = STALL_SECONDS
    ) -> dict[str, Any]:
        """Poll until group `name` has `distinct` different pushes; fail after `timeout`, or
        once nothing new has arrived for `stall` seconds."""
        started = time.monotonic()
        progress, progressed = -1, started
        while True:
            tally = await self.group(name)
            if tally["distinct"] >= distinct:
                return tally
            now = time.monotonic()
            if tally["distinct"] > progress:
                progress, progressed = tally["distinct"], now
            if now - started > timeout or now - progressed > stall:
                why = "stalled" if now - progressed > stall else "too slow"
                raise Incomplete(
                    f"{name}: {tally['distinct']} of {distinct} pushes received, {why} "
                    f"(nothing new for {now - progressed:.0f} s, {now - started:.0f} s in all)"
                )
            await asyncio.sleep(0.05)


async def post_raw(
    url: str, body: bytes, headers: dict[str, str], total: int, concurrency: int
) -> float:
    """POST `body` `total` times with `concurrency` in flight; returns the seconds taken."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    remaining = iter(range(total))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for _ in remaining:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started
