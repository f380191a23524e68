"""A bound on publish work in progress: one more publish than the bound is answered 503 with
`Retry-After` at once, before it costs a query, so the event loop keeps time for health checks
and for the publishes already admitted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import Overloaded


class IngestGate:
    """Admits at most `limit` publishes at once; never queues one."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one place for the block, or raise Overloaded when none is free."""
        if self.active >= self.limit:
            raise Overloaded("too many publishes in progress, retry shortly")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


INGEST_GATE = web.AppKey("ingest_gate", IngestGate)


def admitted(handler: Handler) -> Handler:
    """A handler that runs only once the application's ingest gate admits it."""

    @functools.wraps(handler)
    async def run_admitted(request: web.Request) -> web.StreamResponse:
        with request.app[INGEST_GATE].admit():
            return await handler(request)

    return run_admitted
