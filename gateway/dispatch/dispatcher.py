"""The dispatcher: claims due deliveries and hands them to a fixed set of pushers.

- Claims are batched (`FOR UPDATE SKIP LOCKED`, with a lease), so any number of replicas share
  the queue; a claim wakes on NOTIFY and otherwise polls for due retries. A publish in this
  process leases what the dispatcher can take at once in its own statement and hands it over
  (gateway/ingest/hand_off.py): no claim for a queue that keeps up.
- Each connector has a lane (gateway/dispatch/lanes.py) whose window admits its deliveries to
  the pushers' queue, so an endpoint that hangs or fails holds one pusher.
- `push_concurrency` long-lived pushers take admitted deliveries and push them
  (gateway/dispatch/pusher.py): no task per delivery.
- Outcomes go to the recorder (gateway/dispatch/recorder.py), which writes them in batches; a
  crash before a write costs a duplicate push after the lease, never a lost event.
- Drain is a mode of the same loop: it stops once nothing is due and every outcome is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
import structlog

from gateway.clock import Clock
from gateway.config import Settings
from gateway.dispatch.claim_walk import ClaimWalk
from gateway.dispatch.lanes import Lane, Lanes
from gateway.dispatch.pusher import Pusher
from gateway.dispatch.recorder import Recorder, database_writer
from gateway.dispatch.registry import ConnectorRegistry
from gateway.dispatch.retry import RetryPolicy
from gateway.errors import DATABASE_UNAVAILABLE
from gateway.metrics import Metrics
from gateway.push.asymmetric import AsymmetricSigner
from gateway.push.senders import Senders
from gateway.store import deliveries
from gateway.store.deliveries import BatchSink, ConnectorKey, DeliveryRow, OutcomeBatch
from gateway.store.enqueue import HandOffRoom

log = structlog.get_logger(__name__)


class Dispatcher:
    """Claims, routes each delivery through its lane to the pushers, and feeds the recorder."""

    def __init__(
        self,
        settings: Settings,
        db: asyncpg.Pool,
        senders: Senders,
        registry: ConnectorRegistry,
        metrics: Metrics,
        clock: Clock,
        sinks: Sequence[BatchSink] = (),
        signer: AsymmetricSigner | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._pusher = Pusher(senders, metrics, clock, signer=signer)
        write = database_writer(
            db, clock, RetryPolicy.from_settings(settings), settings.auto_disable_after, sinks
        )
        self._recorder = Recorder(write, self._written)
        self._lanes = Lanes(settings.connector_concurrency)
        self._walk = ClaimWalk(db)
        self._pushers: list[asyncio.Task[None]] = []
        self._unrecorded: set[int] = set()  # claimed, outcome not yet written
        self._unfinished = 0  # claimed, not yet pushed or given up
        self._all_finished = asyncio.Event()
        self._all_finished.set()
        self._work = asyncio.Event()
        self._capacity = asyncio.Event()
        self._stopping = False
        self._loop_ended = asyncio.Event()  # no claim in progress
        self._loop_ended.set()
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
        self._loop_ended.clear()
        self._start_pushers()
        self._recorder.start()
        claimed_total = 0
        try:
            while not self._stopping:
                claimed = await self._claim_logged()
                claimed_total += claimed
                if claimed and not self._walk.walked_all:
                    continue  # more may be due: claim again at once
                if drain:
                    claimed = await self._settle()
                    claimed_total += claimed
                    if not claimed:
                        break
                else:
                    await self._wait_for_work()
        finally:
            self.running = False
            self._loop_ended.set()
            if drain:
                await self._stop_pushers()
                await self._recorder.close(self._settings.shutdown_timeout)
        return claimed_total

    async def stop(self, timeout: float) -> None:
        """Stop claiming, let pushes in flight finish up to `timeout`, write every outcome,
        then hand back what was claimed and not pushed."""
        self._stopping = True
        self._work.set()
        self._capacity.set()
        with contextlib.suppress(TimeoutError):
            # A claim in progress ends first (its rows are handed back below), then the pushes.
            await asyncio.wait_for(self._loop_ended.wait(), timeout)
            await asyncio.wait_for(self._all_finished.wait(), timeout)
        await self._stop_pushers()
        if not await self._recorder.close(timeout):
            # Their pushes are done: handing them back would push them again at once.
            log.warning("outcomes_lost_on_stop", count=self._recorder.pending)
            return
        released = sorted(self._unrecorded)
        if released:
            await deliveries.release(self._db, released, self._clock())
            self._unrecorded.clear()
        log.info("dispatcher_stopped", leases_released=len(released))

    async def _settle(self) -> int:
        """Drain mode, nothing claimed: finish pushes, write outcomes, claim again."""
        await self._all_finished.wait()
        await self._recorder.flush()
        return await self._claim_logged()

    def _start_pushers(self) -> None:
        if self._pushers:
            return
        self._pushers = [
            asyncio.create_task(self._push_forever(), name=f"pusher-{n}")
            for n in range(self._settings.push_concurrency)
        ]

    async def _stop_pushers(self) -> None:
        pushers, self._pushers = self._pushers, []
        for pusher in pushers:
            pusher.cancel()
        await asyncio.gather(*pushers, return_exceptions=True)

    # -- claiming --------------------------------------------------------------------------

    def _claim_room(self) -> int:
        # At most twice what can be in flight waits for a pusher, so a claim never outruns its
        # lease. Deliveries waiting behind their connector's window wait at most a few push
        # timeouts (failures in a row halt the lane) and do not count.
        return 2 * self._settings.push_concurrency - self._lanes.admitted

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
        closed, per_connector = self._lanes.closed_to_claims(), self._lanes.connector_claim_limit
        rows = await self._walk.claim(now, limit, self._lease_until(now), closed, per_connector)
        self._take(rows, now)
        return len(rows)

    def _take(self, rows: Sequence[DeliveryRow], now: datetime) -> None:
        """Claimed or handed-off deliveries join their lanes (expired ones are settled)."""
        for row in rows:
            self._unrecorded.add(row["id"])
            if row["expires_at"] <= now:
                self._metrics.deliveries_expired.inc()
                self._recorder.add_settled(row["id"])
                continue
            self._unfinished += 1
            self._lanes.add(row)
        if self._unfinished:
            self._all_finished.clear()

    # -- hand-off (gateway/ingest/hand_off.py) ---------------------------------------------

    def hand_off_room(self, now: datetime) -> HandOffRoom | None:
        """What a publish may lease to this process as it queues it: what a claim would take
        now, or None while no claim loop runs (draining, stopping, or no dispatcher here)."""
        limit = self._claim_room()
        if not self.running or self._stopping or limit <= 0:
            return None
        closed, per_connector = self._lanes.closed_to_claims(), self._lanes.connector_claim_limit
        return HandOffRoom(self._lease_until(now), limit, per_connector, closed)

    def _lease_until(self, now: datetime) -> datetime:
        """How long what this process claims or is handed stays its own."""
        return now + timedelta(seconds=self._settings.lease)

    async def take_over(self, rows: Sequence[DeliveryRow]) -> None:
        """Deliveries a publish leased to this process: pushed as if claimed, or handed back
        at once if it began to stop meanwhile."""
        if not self._stopping:
            self._take(rows, self._clock())
            return
        try:
            await deliveries.release(self._db, [row["id"] for row in rows], self._clock())
        except DATABASE_UNAVAILABLE as error:  # the publish stands: they wait for their lease
            log.warning("hand_back_failed", count=len(rows), error=type(error).__name__)

    async def _wait_for_work(self) -> None:
        # Without room to claim, work already signalled waits for room (or the poll): waking
        # on it would only find no room again, at once, for as long as the pushes take.
        signals = [self._capacity]
        if self._claim_room() >= self._claim_threshold():
            signals.append(self._work)
        waiters = [asyncio.ensure_future(signal.wait()) for signal in signals]
        try:
            await asyncio.wait(
                waiters, timeout=self._settings.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    # -- pushing ---------------------------------------------------------------------------

    async def _push_forever(self) -> None:
        """One pusher: take admitted deliveries and push them, one at a time."""
        while True:
            row, lane = await self._lanes.take()
            ok: bool | None = None
            try:
                ok = await self._deliver(row)
            except Exception:
                log.exception("delivery_failed", delivery=row["id"])
            finally:
                self._finished(row, lane, ok)

    async def _deliver(self, row: DeliveryRow) -> bool | None:
        """Push one delivery; True or False as it went, None when it was not pushed."""
        if self._stopping:
            return None  # handed back by stop()
        project_id, connector_id = row["project_id"], row["connector_id"]
        connector = self._registry.cached_active(project_id, connector_id)
        if connector is None:
            connector = await self._registry.active(project_id, connector_id)
        if connector is None:
            self._recorder.add_settled(row["id"])  # deleted or disabled: its queue is gone
            return None
        attempt = await self._pusher.push(row, connector)
        self._recorder.add_attempt(attempt)
        return attempt.ok

    def _finished(self, row: DeliveryRow, lane: Lane, ok: bool | None) -> None:
        was_full = lane.full
        given_up = self._lanes.finish(row, lane, ok)
        key = (row["project_id"], row["connector_id"])
        for waiting in given_up:
            self._recorder.add_deferred(key, waiting["id"])
        self._unfinished -= 1 + len(given_up)
        if not self._unfinished:
            self._all_finished.set()
        if (was_full and not lane.full) or self._claim_room() == self._claim_threshold():
            self._capacity.set()  # a full lane, or this process, may take more again

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
