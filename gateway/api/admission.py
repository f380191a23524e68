"""A bound on publish work in progress. Past the bound, a publish waits for a place in a short
queue, at most as long as a refused client would wait before its retry; past the queue, or past
that time, it is answered 503 with `Retry-After` at once, before it costs a query. So a burst of
a few publishes more than the bound is absorbed, while the event loop keeps time for health
checks and for the publishes admitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import Overloaded


class IngestGate:
    """Admits at most `limit` publishes at once; up to `queue` more wait, each at most
    `Overloaded.retry_after` seconds, for a place."""

    def __init__(self, limit: int, queue: int = 0) -> None:
        self.limit = limit
        self.queue = queue
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one place for the block, or raise Overloaded when none comes free in time."""
        await self._take_place()
        try:
            yield
        finally:
            self._release()

    async def _take_place(self) -> None:
        if self.active < self.limit and not self._waiting:
            self.active += 1
            return
        if len(self._waiting) >= self.queue:
            raise Overloaded("too many publishes in progress, retry shortly")
        place = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        try:
            async with asyncio.timeout(Overloaded.retry_after):
                await place
        except TimeoutError:
            if not _handed_over(place):
                raise Overloaded("too many publishes in progress, retry shortly") from None
        except BaseException:
            if _handed_over(place):  # cancelled as its place came: pass the place on
                self._release()
            raise
        finally:
            if not _handed_over(place):  # timed out or cancelled: out of the queue
                place.cancel()
                with contextlib.suppress(ValueError):  # a release passed it over meanwhile
                    self._waiting.remove(place)

    def _release(self) -> None:
        """A place comes free: the first publish still waiting takes it over."""
        while self._waiting:
            place = self._waiting.popleft()
            if not place.done():
                place.set_result(None)
                return
        self.active -= 1


def _handed_over(place: asyncio.Future[None]) -> bool:
    return place.done() and not place.cancelled()


INGEST_GATE = web.AppKey("ingest_gate", IngestGate)


def admitted(handler: Handler) -> Handler:
    """A handler that runs only once the application's ingest gate admits it."""

    @functools.wraps(handler)
    async def run_admitted(request: web.Request) -> web.StreamResponse:
        async with request.app[INGEST_GATE].admit():
            return await handler(request)

    return run_admitted
