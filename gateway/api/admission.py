"""A bound on publish work in progress. Past the bound, a publish waits for a place in a short
queue, at most as long as a refused client would wait before its retry; past the queue, or past
that time, it is answered 503 with `Retry-After` at once, before it costs a query. So a burst of
a few publishes more than the bound is absorbed, while the event loop keeps time for health
checks and for the publishes admitted.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import Overloaded


class IngestGate:
    """Admits at most `limit` publishes at once; up to `queue` more wait, first come first
    served and each at most `Overloaded.retry_after` seconds, for a place."""

    def __init__(self, limit: int, queue: int = 0) -> None:
        self.limit = limit
        self.queue = queue
        self.active = 0
        self.waiting = 0
        self._places = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one place for the block, or raise Overloaded when none comes free in time."""
        await self._take_place()
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._places.release()

    async def _take_place(self) -> None:
        if self._places.locked() and self.waiting >= self.queue:
            raise Overloaded("too many publishes in progress, retry shortly")
        self.waiting += 1
        try:
            async with asyncio.timeout(Overloaded.retry_after):
                await self._places.acquire()
        except TimeoutError:
            raise Overloaded("too many publishes in progress, retry shortly") from None
        finally:
            self.waiting -= 1


INGEST_GATE = web.AppKey("ingest_gate", IngestGate)


def admitted(handler: Handler) -> Handler:
    """A handler that runs only once the application's ingest gate admits it."""

    @functools.wraps(handler)
    async def run_admitted(request: web.Request) -> web.StreamResponse:
        async with request.app[INGEST_GATE].admit():
            return await handler(request)

    return run_admitted
