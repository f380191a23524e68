"""The recorder: outcomes of pushes gathered and written in batches, apart from the pushing.

A batch is written when `max_batch` outcomes wait, or `interval` after the last write, in one
transaction. A write that fails puts its batch back in front of what was gathered since, so
nothing is lost or reordered; the leases cover an outage longer than the retries. Closing
waits for a write in progress and writes what remains, so a stop never hands back a delivery
whose outcome is known.

More writers of the same batch (an attempt log, say) are `BatchSink`s given to
`database_writer`: they run in the batch's transaction and see every `Attempt`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import asyncpg
import structlog

from gateway.clock import Clock
from gateway.errors import DATABASE_UNAVAILABLE
from gateway.store import deliveries
from gateway.store.deliveries import Attempt, BatchSink, ConnectorKey, OutcomeBatch

log = structlog.get_logger(__name__)

# Writes a batch; returns the connectors it disabled.
WriteBatch = Callable[[OutcomeBatch], Awaitable[list[ConnectorKey]]]
# Told of each batch once it is written, with the connectors it disabled.
OnWritten = Callable[[OutcomeBatch, list[ConnectorKey]], None]

MAX_BATCH = 512
INTERVAL = 0.05  # seconds between writes while pushes complete
PAUSE_AFTER_ERROR = 0.5


def database_writer(
    db: asyncpg.Pool,
    clock: Clock,
    retry_delay: deliveries.RetryPolicy,
    auto_disable_after: float,
    sinks: Sequence[BatchSink] = (),
) -> WriteBatch:
    """Write batches to the delivery tables, then to each of `sinks`, in one transaction."""

    async def write(batch: OutcomeBatch) -> list[ConnectorKey]:
        now = clock()
        disable_before = now - timedelta(seconds=auto_disable_after)
        return await deliveries.record(db, batch, now, retry_delay, disable_before, sinks)

    return write


class Recorder:
    """Gathers outcomes and writes them in batches, flushed on size or time."""

    def __init__(
        self,
        write: WriteBatch,
        on_written: OnWritten,
        *,
        max_batch: int = MAX_BATCH,
        interval: float = INTERVAL,
        pause_after_error: float = PAUSE_AFTER_ERROR,
    ) -> None:
        self.max_batch = max_batch
        self.interval = interval
        self.pause_after_error = pause_after_error
        self._write = write
        self._on_written = on_written
        self._batch = OutcomeBatch()
        self._size = 0  # outcomes in `_batch`
        self._batch_full = asyncio.Event()
        self._closing = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Outcomes gathered and not yet written."""
        return self._size

    def add_attempt(self, attempt: Attempt) -> None:
        """A push ended (success or failure)."""
        self._batch.attempts.append(attempt)
        self._added()

    def add_settled(self, delivery_id: int) -> None:
        """A delivery is dropped without a push: expired, or its connector is gone."""
        self._batch.settled.append(delivery_id)
        self._added()

    def add_deferred(self, connector: ConnectorKey, delivery_id: int) -> None:
        """A claimed delivery was not pushed: it waits for its connector's next retry."""
        self._batch.deferred.setdefault(connector, []).append(delivery_id)
        self._added()

    def _added(self) -> None:
        self._size += 1
        if self._size >= self.max_batch:
            self._batch_full.set()

    async def flush(self) -> None:
        """Write everything gathered so far; on failure put it back in front, and raise."""
        async with self._writing:
            batch, size = self._batch, self._size
            if not size:
                return
            self._batch, self._size = OutcomeBatch(), 0
            try:
                disabled = await self._write(batch)
            except BaseException:
                batch.extend(self._batch)
                self._batch, self._size = batch, size + self._size
                raise
            self._on_written(batch, disabled)

    def start(self) -> None:
        """Write batches in the background until `close()`."""
        if self._task is not None and not self._task.done():
            return
        self._closing.clear()
        self._task = asyncio.create_task(self._run(), name="outcome-recorder")

    async def close(self, timeout: float) -> bool:
        """Stop writing in the background, then write what remains, trying again until
        `timeout`; True when everything is written."""
        self._closing.set()
        if self._task is not None:
            await self._task  # its write in progress, if any, ends first
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._size:
            if not await self._flush_logged():
                if loop.time() + self.pause_after_error > deadline:
                    return False
                await asyncio.sleep(self.pause_after_error)
        return True

    async def _run(self) -> None:
        while not self._closing.is_set():
            await self._wait_for_batch()
            self._batch_full.clear()
            if not await self._flush_logged():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self.pause_after_error)

    async def _wait_for_batch(self) -> None:
        waiters = [
            asyncio.ensure_future(self._batch_full.wait()),
            asyncio.ensure_future(self._closing.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _flush_logged(self) -> bool:
        """Flush; log a failure (the batch is kept) and return False."""
        try:
            await self.flush()
        except DATABASE_UNAVAILABLE as error:
            log.warning("outcomes_not_recorded", error=type(error).__name__, kept=self._size)
            return False
        except Exception:
            log.exception("outcomes_not_recorded", kept=self._size)
            return False
        return True
