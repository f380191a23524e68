"""How many pushes a connector may have in flight: a window that grows while it answers.

It starts at one push, doubles with each success up to its maximum, and falls back to one on a
failure. An endpoint that hangs therefore holds one of the process's push slots, not a lane's
worth, from its very first push; a healthy one reaches its cap after a handful of answers.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Window:
    """Pushes a connector may have in flight now (`size`), and how many it has (`in_flight`)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 1
        self.in_flight = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.size)
            self.in_flight += 1

    async def release(self) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    async def __aenter__(self) -> Window:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.release()

    def succeeded(self) -> None:
        self.size = min(2 * self.size, self.max_size)

    def failed(self) -> None:
        self.size = 1
