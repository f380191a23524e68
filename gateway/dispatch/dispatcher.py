"""The dispatcher: claims due deliveries and pushes them in per-connector lanes.

- Claims are batched (`FOR UPDATE SKIP LOCKED`, with a lease), so any number of replicas share
  the queue; a claim wakes on NOTIFY and otherwise polls for due retries.
- Each connector has a lane (gateway/dispatch/lanes.py) whose window of pushes in flight grows
  from one while it answers, so an endpoint that hangs or fails holds one push slot.
- Outcomes go to the recorder (gateway/dispatch/recorder.py), which writes them in batches; a
  crash before a write costs a duplicate push after the lease, never a lost event.
- Drain is a mode of the same loop: it stops once nothing is due and every outcome is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
import asyncpg
import structlog

from gateway.clock import Clock
from gateway.config import Settings
from gateway.dispatch.lanes import Lane, Lanes
from gateway.dispatch.pusher import Pusher
from gateway.dispatch.recorder import Recorder, database_writer
from gateway.dispatch.registry import ConnectorRegistry
from gateway.dispatch.retry import retry_delay
from gateway.errors import DATABASE_UNAVAILABLE
from gateway.metrics import Metrics
from gateway.store import deliveries
from gateway.store.deliveries import BatchSink, ConnectorKey, OutcomeBatch

log = structlog.get_logger(__name__)

START = ("", "")  # the claim cursor before the first connector


class Dispatcher:
    """Claims, hands each delivery to its lane's push, and feeds outcomes to the recorder."""

    def __init__(
        self,
        settings: Settings,
        db: asyncpg.Pool,
        session: aiohttp.ClientSession,
        registry: ConnectorRegistry,
        metrics: Metrics,
        clock: Clock,
        sinks: Sequence[BatchSink] = (),
    ) -> None:
        self._settings = settings
        self._db = db
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._pusher = Pusher(session, metrics, clock, not settings.allow_insecure_targets)
        write = database_writer(
            db, clock, retry_delay(settings), settings.auto_disable_after, sinks
        )
        self._recorder = Recorder(write, self._written)
        self._lanes = Lanes(settings.connector_concurrency)
        self._claim_after: ConnectorKey = START  # the connector the last claim ended at
        self._tasks: set[asyncio.Task[None]] = set()
        self._unrecorded: set[int] = set()  # claimed, outcome not yet written
        self._unfinished = 0  # claimed, push not yet done
        self._waiting_for_window = 0  # of those, waiting behind their connector's window
        self._push_slots = asyncio.Semaphore(settings.push_concurrency)
        self._work = asyncio.Event()
        self._capacity = asyncio.Event()
        self._stopping = False
        self.running = False

    def wake(self) -> None:
        """New deliveries were queued (a NOTIFY, or this process queued them)."""
        self._work.set()

    async def run(self) -> None:
        """Claim and push until `stop()`; the recorder writes outcomes beside it."""
        await self._loop(drain=False)

    async def run_until_idle(self) -> int:
        """Drain: push until nothing is due now, writing every outcome; returns deliveries
        claimed (pushed, or settled without a push). For tests and tools: no task left behind.
        """
        return await self._loop(drain=True)

    async def _loop(self, *, drain: bool) -> int:
        self.running = not drain
        self._recorder.start()
        claimed_total = 0
        try:
            while not self._stopping:
                claimed = await self._claim_logged()
                claimed_total += claimed
                if claimed:
                    continue
                if drain:
                    if not await self._settle():
                        break
                else:
                    await self._wait_for_work()
        finally:
            self.running = False
            if drain:
                await self._recorder.close(self._settings.shutdown_timeout)
        return claimed_total

    async def stop(self, timeout: float) -> None:
        """Stop claiming, let pushes in flight finish up to `timeout`, write every outcome,
        then hand back what was claimed and not pushed."""
        self._stopping = True
        self._work.set()
        self._capacity.set()
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if not await self._recorder.close(timeout):
            # Their pushes are done: handing them back would push them again at once.
            log.warning("outcomes_lost_on_stop", count=self._recorder.pending)
            return
        released = sorted(self._unrecorded)
        if released:
            await deliveries.release(self._db, released, self._clock())
            self._unrecorded.clear()
        log.info("dispatcher_stopped", leases_released=len(released))

    async def _settle(self) -> bool:
        """Drain mode, nothing claimed: finish pushes and write outcomes; False when idle."""
        if self._tasks:
            await asyncio.gather(*set(self._tasks))
        await self._recorder.flush()
        return bool(await self._claim_logged())

    # -- claiming --------------------------------------------------------------------------

    def _claim_room(self) -> int:
        # At most twice what can be in flight waits for a push slot, so a claim never outruns
        # its lease. Deliveries behind their connector's window wait at most one push timeout
        # (a failure sends them back), and finished ones wait on nothing: neither counts.
        ready = self._unfinished - self._waiting_for_window
        return 2 * self._settings.push_concurrency - ready

    def _claim_threshold(self) -> int:
        return min(self._settings.claim_batch, self._settings.push_concurrency) // 2 + 1

    async def _claim_logged(self) -> int:
        try:
            return await self._claim()
        except DATABASE_UNAVAILABLE as error:
            log.warning("claim_failed", error=type(error).__name__)
            return 0

    async def _claim(self) -> int:
        self._capacity.clear()
        limit = min(self._claim_room(), self._settings.claim_batch)
        if limit < self._claim_threshold():
            return 0
        self._work.clear()
        now = self._clock()
        lease_until = now + timedelta(seconds=self._settings.lease)
        rows = await deliveries.claim(
            self._db, now, limit, lease_until, self._lanes.closed_to_claims(),
            self._lanes.connector_claim_limit, self._claim_after,
        )
        self._advance_cursor(rows, limit)
        for row in rows:
            self._unrecorded.add(row["id"])
            self._start_delivery(row, now)
        return len(rows)

    def _advance_cursor(self, rows: list[asyncpg.Record], limit: int) -> None:
        # The next claim goes on after the last connector served; a short claim means the walk
        # reached the end, so the next one starts from the beginning again.
        if len(rows) < limit and self._claim_after != START:
            self._claim_after = START
            if not rows:
                self._work.set()  # the beginning may have due work: look there at once
        elif rows:
            self._claim_after = max((row["project_id"], row["connector_id"]) for row in rows)

    async def _wait_for_work(self) -> None:
        waiters = [
            asyncio.ensure_future(self._work.wait()),
            asyncio.ensure_future(self._capacity.wait()),
        ]
        try:
            await asyncio.wait(
                waiters, timeout=self._settings.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _start_delivery(self, row: asyncpg.Record, claimed_at: datetime) -> None:
        lane = self._lanes.enter(row["connector_id"])
        self._unfinished += 1
        task = asyncio.create_task(self._deliver(row, lane, claimed_at))
        self._tasks.add(task)
        task.add_done_callback(self._delivery_ended)

    def _delivery_ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery_task_failed", error=repr(task.exception()))

    # -- pushing ---------------------------------------------------------------------------

    async def _deliver(self, row: asyncpg.Record, lane: Lane, claimed_at: datetime) -> None:
        try:
            await self._deliver_in_lane(row, lane, claimed_at)
        finally:
            self._unfinished -= 1
            room_again = self._lanes.leave(row["connector_id"], lane)
            if room_again or self._claim_room() == self._claim_threshold():
                self._capacity.set()  # a full lane, or this process, may take more again

    async def _deliver_in_lane(
        self, row: asyncpg.Record, lane: Lane, claimed_at: datetime
    ) -> None:
        if row["expires_at"] <= claimed_at:
            self._metrics.deliveries_expired.inc()
            self._recorder.add_settled(row["id"])
            return
        connector = await self._registry.active(row["project_id"], row["connector_id"])
        if connector is None:
            self._recorder.add_settled(row["id"])  # deleted or disabled: its queue is gone
            return
        self._waiting_for_window += 1
        try:
            await lane.window.acquire()
        finally:
            self._waiting_for_window -= 1
        try:
            if self._stopping:
                return  # not started: handed back by stop()
            if lane.failed:
                self._recorder.add_deferred((row["project_id"], row["connector_id"]), row["id"])
                return
            async with self._push_slots:
                attempt = await self._pusher.push(row, connector)
            if attempt.ok:
                lane.window.succeeded()
            else:
                lane.failed = True
                lane.window.failed()
            self._recorder.add_attempt(attempt)
        finally:
            await lane.window.release()

    # -- outcomes written ------------------------------------------------------------------

    def _written(self, batch: OutcomeBatch, disabled: list[ConnectorKey]) -> None:
        self._unrecorded.difference_update(batch.delivery_ids())
        self._capacity.set()  # room to claim more
        for reason, count in batch.dropped.items():
            self._metrics.count_dropped(reason, count)
        for project_id, connector_id in disabled:
            self._registry.invalidate(project_id)
            self._metrics.connectors_auto_disabled.inc()
            log.warning("connector_auto_disabled", project=project_id, connector=connector_id)
