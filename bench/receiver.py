"""The benchmark's push receiver: answers 200 as fast as it can and counts what arrives.

`python bench/receiver.py --port P --secret S`. Pushes are grouped by the first segment of their
path (`/<group>/<connector>`). Per group it counts pushes, distinct (path, eventId) pairs, first
and last arrival times, publish-to-arrival latencies (now - the event's timestamp) and a sample
of verified signatures. Two groups behave differently on purpose: `hang` never answers within
the benchmark and `fail` answers 500.

`GET /stats` returns every group's counts, `GET /stats/<group>/latency` its latency quantiles,
`POST /reset` forgets everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
import orjson
from aiohttp import web

HANG_SECONDS = 900.0  # longer than any push timeout and any benchmark run
FLAKY_EVERY = 200  # paths under /flaky/ answer 500 to one push in this many
SIGNATURE_HEADER = "X-Dt-Signature"


@dataclass
class Tally:
    """What one group of paths received."""

    received: int = 0
    distinct: int = 0
    first: float = 0.0
    last: float = 0.0
    verified: int = 0
    bad_signatures: int = 0
    failed: int = 0  # answered 500 on purpose (counted in `received`, not in `distinct`)
    latencies: list[float] = field(default_factory=list)  # of pushes that succeeded first time
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    failed_keys: set[tuple[str, str]] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "distinct": self.distinct,
            "duplicates": self.received - self.failed - self.distinct,
            "first": self.first,
            "last": self.last,
            "verified": self.verified,
            "badSignatures": self.bad_signatures,
            "failed": self.failed,
            "paths": len({path for path, _ in self.seen}),
        }


def quantiles(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max of `samples` (seconds), by rank on the sorted list."""
    if not samples:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"count": len(ordered), "p50": rank(0.5), "p99": rank(0.99), "max": ordered[-1]}


def signature_ok(body: bytes, token: str | None, secret: str) -> bool:
    """DT's recipe: an HS256 JWT whose checksum_sha256 claim is the body's SHA-256."""
    if not token:
        return False
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return False
    return bool(claims.get("checksum_sha256") == hashlib.sha256(body).hexdigest())


class Counter:
    """Every group's tally, and the handlers that fill them."""

    def __init__(self, secret: str, verify_every: int) -> None:
        self._secret = secret
        self._verify_every = verify_every
        self._arrivals = 0
        self._flaky_arrivals = 0
        self.groups: dict[str, Tally] = {}

    def count(self, path: str, body: bytes, token: str | None, fail: bool = False) -> Tally:
        """Count one push; a push answered 500 (`fail`) is not a delivery, and its retry's
        latency is not one of a first-time success."""
        now = time.time()
        group = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        tally = self.groups.get(group)
        if tally is None:
            tally = self.groups[group] = Tally(first=now)
        tally.received += 1
        tally.last = now
        event = orjson.loads(body).get("event", {})
        key = (path, str(event.get("eventId")))
        if fail:
            tally.failed += 1
            tally.failed_keys.add(key)
            return tally
        seen = tally.seen.get(key, 0)
        tally.seen[key] = seen + 1
        if not seen:
            tally.distinct += 1
        if not seen and key not in tally.failed_keys:
            with contextlib.suppress(TypeError, ValueError):
                published = datetime.fromisoformat(event["timestamp"]).timestamp()
                tally.latencies.append(now - published)
        self._arrivals += 1
        if self._arrivals % self._verify_every == 0:
            if signature_ok(body, token, self._secret):
                tally.verified += 1
            else:
                tally.bad_signatures += 1
        return tally

    async def push(self, request: web.Request) -> web.Response:
        body = await request.read()
        fail = False
        if request.path.startswith("/flaky/"):
            self._flaky_arrivals += 1
            fail = self._flaky_arrivals % FLAKY_EVERY == 0
        self.count(request.path, body, request.headers.get(SIGNATURE_HEADER), fail)
        if fail:
            return web.Response(status=500, text="failing on purpose, once in a while")
        if request.path.startswith("/hang/"):
            await asyncio.sleep(HANG_SECONDS)
        if request.path.startswith("/fail/"):
            return web.Response(status=500, text="failing on purpose")
        return web.Response(text="OK")

    async def stats(self, _request: web.Request) -> web.Response:
        groups = {name: tally.summary() for name, tally in self.groups.items()}
        return web.Response(body=orjson.dumps({"groups": groups}), content_type="application/json")

    async def latency(self, request: web.Request) -> web.Response:
        tally = self.groups.get(request.match_info["group"], Tally())
        return web.Response(
            body=orjson.dumps(quantiles(tally.latencies)), content_type="application/json"
        )

    async def reset(self, _request: web.Request) -> web.Response:
        self.groups.clear()
        return web.Response(text="OK")


def application(counter: Counter) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes(
        [
            web.get("/stats", counter.stats),
            web.get("/stats/{group}/latency", counter.latency),
            web.post("/reset", counter.reset),
            web.post("/{path:.*}", counter.push),
        ]
    )
    return app


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--secret", required=True, help="the connectors' signature secret")
    arguments.add_argument("--verify-every", type=int, default=50, help="verify 1 push in N")
    options = arguments.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    counter = Counter(options.secret, options.verify_every)
    web.run_app(
        application(counter), host="127.0.0.1", port=options.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
