"""The dispatcher: claims due deliveries, pushes them in per-connector lanes, records outcomes.

- Claims are batched (`FOR UPDATE SKIP LOCKED`, with a lease), so any number of replicas share
  the queue; a claim wakes on NOTIFY and otherwise polls for due retries.
- Each connector has a lane with bounded concurrency; one claim takes at most a lane's worth of
  one connector, and a connector whose lane is full is left out of the next claim, so one slow or
  dead endpoint never fills the process.
- When a push fails, the rest of that connector's lane is not tried now: the whole queue of the
  connector waits for its next retry, whose delay grows with its failure streak.
- A connector's pushes in flight grow from one while it answers (gateway/window.py), so an
  endpoint that hangs or fails holds one push slot, not its lane's worth.
- Outcomes are written in batches by one recorder; a crash before a write costs a duplicate push
  after the lease, never a lost event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import asyncpg
import structlog

from gateway import latency
from gateway.clock import Clock
from gateway.config import Settings
from gateway.dispatch.registry import ConnectorRegistry
from gateway.dispatch.window import Window
from gateway.metrics import PUSH_OUTCOMES, Metrics, push_outcome
from gateway.model import Connector
from gateway.push import body as push_body
from gateway.push import post as push
from gateway.push.asymmetric import AsymmetricSigner
from gateway.store import deliveries
from gateway.store.deliveries import Failure, Outcomes

log = structlog.get_logger(__name__)

# What an unreachable or restarting database raises; the loops wait and try again.
_DATABASE_ERRORS = (
    OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError
)
RECORD_INTERVAL = 0.05  # seconds between outcome writes while pushes complete
RECORD_BATCH = 512  # or sooner, once this many outcomes wait
JITTER = 0.2


def retry_delay(settings: Settings) -> deliveries.RetryPolicy:
    """Exponential backoff with ±20 % jitter from the connector's failure streak; a Retry-After
    is honoured within [retry_base, retry_max]."""

    def delay(streak: int, retry_after: float | None) -> timedelta:
        if retry_after is not None:
            seconds = min(max(retry_after, settings.retry_base), settings.retry_max)
            return timedelta(seconds=seconds)
        seconds = min(settings.retry_base * 2 ** min(max(streak - 1, 0), 30), settings.retry_max)
        return timedelta(seconds=seconds * random.uniform(1 - JITTER, 1 + JITTER))

    return delay


@dataclass
class Lane:
    """A connector's claimed deliveries in this process."""

    window: Window

    @property
    def cap(self) -> int:
        """Deliveries this lane may hold: a few rounds of what its window lets through."""
        return 4 * self.window.size
    claimed: int = 0
    failed: bool = False  # a push failed: the rest wait for the connector's retry


@dataclass
class _Pending:
    """Outcomes not yet written, and the deliveries this process holds."""

    outcomes: Outcomes = field(default_factory=Outcomes)
    size: int = 0


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: asyncpg.Pool,
        session: aiohttp.ClientSession,
        registry: ConnectorRegistry,
        metrics: Metrics,
        clock: Clock,
        signer: AsymmetricSigner | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._session = session
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._signer = signer
        self._retry_delay = retry_delay(settings)
        self._attempts = {o: metrics.push_attempts.labels(o) for o in PUSH_OUTCOMES}
        self._lanes: dict[str, Lane] = {}
        # Each connector's window, kept while the process lives: a connector that answers
        # well is not made to grow it again every time its queue runs empty.
        self._windows: dict[str, Window] = {}
        self._turn: tuple[str, str] = ("", "")  # (project, connector) the last claim ended at
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[int] = set()  # claimed, outcome not yet written
        self._unfinished = 0  # claimed, push not yet done
        self._behind_windows = 0  # of those, waiting for their connector's window
        self._pending = _Pending()
        self._slots = asyncio.Semaphore(settings.push_concurrency)
        self._work = asyncio.Event()
        self._capacity = asyncio.Event()
        self._recorded = asyncio.Event()
        self._stopping = False
        self.running = False

    # -- public API ------------------------------------------------------------------------

    def wake(self) -> None:
        """New deliveries were queued (a NOTIFY, or this process queued them)."""
        self._work.set()

    async def run(self) -> None:
        """Claim and push until `stop()`; the recorder runs beside it."""
        self.running = True
        recorder = asyncio.create_task(self._record_forever(), name="dispatcher-recorder")
        try:
            while not self._stopping:
                try:
                    claimed = await self._claim_and_spawn()
                except _DATABASE_ERRORS as error:
                    log.warning("claim_failed", error=type(error).__name__)
                    claimed = 0
                if not claimed:
                    await self._wait_for_work()
        finally:
            self.running = False
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder

    async def stop(self, timeout: float) -> None:
        """Stop claiming, let pushes in flight finish up to `timeout`, hand back the rest."""
        self._stopping = True
        self._work.set()
        self._capacity.set()
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        await self._record()
        released = len(self._held)
        if self._held:
            await deliveries.release(self._db, sorted(self._held), self._clock())
            self._held.clear()
        log.info("dispatcher_stopped", leases_released=released)

    async def run_until_idle(self) -> int:
        """Push until nothing is due now, writing every outcome; returns deliveries claimed
        (pushed, or settled without a push: expired, dropped, or behind a failed push).

        For tests and tools: deterministic, no background tasks left behind.
        """
        attempted = 0
        while True:
            claimed = await self._claim_and_spawn(limit=self._settings.claim_batch)
            if not claimed and not self._tasks:
                return attempted
            attempted += claimed
            await asyncio.gather(*set(self._tasks))
            await self._record()

    # -- claiming --------------------------------------------------------------------------

    def _room(self) -> int:
        # At most twice what can be in flight waits for a push slot, so a claim never outruns
        # its lease. Deliveries behind their connector's window wait at most one push timeout
        # (a failure sends them back), and finished ones wait on nothing: neither counts.
        ready = self._unfinished - self._behind_windows
        return 2 * self._settings.push_concurrency - ready

    def _claim_threshold(self) -> int:
        return min(self._settings.claim_batch, self._settings.push_concurrency) // 2 + 1

    def _lane_cap(self) -> int:
        return 4 * self._settings.connector_concurrency

    def _busy_connectors(self) -> list[str]:
        return [cid for cid, lane in self._lanes.items() if lane.claimed >= lane.cap or lane.failed]

    async def _claim_and_spawn(self, limit: int | None = None) -> int:
        self._capacity.clear()
        room = min(self._room(), limit or self._settings.claim_batch)
        if room < self._claim_threshold():
            return 0
        self._work.clear()
        now = self._clock()
        lease_until = now + timedelta(seconds=self._settings.lease)
        rows = await deliveries.claim(
            self._db, now, room, lease_until, self._busy_connectors(), self._lane_cap(),
            self._turn,
        )
        # The next claim goes on after the last connector served; a short claim means the walk
        # reached the end, so the next one starts from the beginning again.
        at_start = self._turn == ("", "")
        if len(rows) < room and not at_start:
            self._turn = ("", "")
            if not rows:
                self._work.set()  # the beginning may have due work: look there at once
        elif rows:
            self._turn = max((row["project_id"], row["connector_id"]) for row in rows)
        for row in rows:
            self._held.add(row["id"])
            self._spawn(row, now)
        return len(rows)

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

    def _spawn(self, row: asyncpg.Record, now: datetime) -> None:
        lane = self._lanes.get(row["connector_id"])
        if lane is None:
            window = self._windows.setdefault(
                row["connector_id"], Window(self._settings.connector_concurrency)
            )
            lane = Lane(window)
            self._lanes[row["connector_id"]] = lane
        lane.claimed += 1
        self._unfinished += 1
        task = asyncio.create_task(self._deliver(row, lane, now))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery_task_failed", error=repr(task.exception()))

    # -- pushing ---------------------------------------------------------------------------

    async def _deliver(self, row: asyncpg.Record, lane: Lane, claimed_at: datetime) -> None:
        try:
            if row["expires_at"] <= claimed_at:
                self._metrics.deliveries_expired.inc()
                self._done(row)
                return
            connector = await self._registry.active(row["project_id"], row["connector_id"])
            if connector is None:
                self._done(row)  # deleted or disabled since it was queued: its queue is gone
                return
            async with self._through(lane.window):
                if self._stopping:
                    return  # not started: handed back by stop()
                if lane.failed:
                    self._fail(row, retry_after=None)
                    return
                async with self._slots:
                    result = await self._push(row, connector)
                self._outcome(row, connector, lane, result)
        finally:
            lane.claimed -= 1
            self._unfinished -= 1
            if lane.claimed == lane.cap - 1 or self._room() == self._claim_threshold():
                self._capacity.set()  # a full lane, or this process, may take more again
            if lane.claimed == 0 and self._lanes.get(row["connector_id"]) is lane:
                del self._lanes[row["connector_id"]]

    @contextlib.asynccontextmanager
    async def _through(self, window: Window) -> AsyncIterator[None]:
        """Pass a connector's window, counting those waiting at it."""
        self._behind_windows += 1
        try:
            await window.acquire()
        finally:
            self._behind_windows -= 1
        try:
            yield
        finally:
            await window.release()

    async def _push(self, row: asyncpg.Record, connector: Connector) -> push.PushResult:
        metadata = {
            "deviceId": row["device_id"],
            "projectId": row["project_id"],
            "deviceType": row["device_type"],
            "productNumber": row["product_number"],
        }
        body = push_body.render_body(row["body"], row["labels"], connector.labels, metadata)
        # Signed at the gateway's time: a retry carries that moment's iat, exp and timestamps.
        headers = push_body.request_headers(
            connector,
            body,
            self._clock().timestamp(),
            event_id=row["event_id"],
            signer=self._signer,
        )
        self._metrics.pushes_in_flight.inc()
        try:
            return await push.post(self._session, connector.url, body, headers)
        finally:
            self._metrics.pushes_in_flight.dec()

    # -- outcomes --------------------------------------------------------------------------

    def _outcome(
        self, row: asyncpg.Record, connector: Connector, lane: Lane, result: push.PushResult
    ) -> None:
        now = self._clock()
        key = (row["project_id"], row["connector_id"])
        outcome = push_outcome(result.status, result.timed_out)
        self._attempts[outcome].inc()
        self._metrics.push_duration.observe(result.elapsed)
        self._count(key, now, result)
        if result.ok:
            lane.window.succeeded()
            self._metrics.delivery_lag.observe(max(0.0, (now - row["stored_at"]).total_seconds()))
            self._pending.outcomes.succeeded.add(key)
            self._done(row)
            return
        lane.failed = True
        lane.window.failed()
        self._metrics.retries_scheduled.inc()
        log.info(
            "push_failed",
            project=row["project_id"],
            connector=row["connector_id"],
            delivery=row["id"],
            attempt=row["attempts"],
            status=result.status,
            error=result.error,
        )
        self._fail(row, retry_after=result.retry_after)

    def _count(self, key: tuple[str, str], now: datetime, result: push.PushResult) -> None:
        minute = now.replace(second=0, microsecond=0)
        bucket = latency.bucket_of(result.elapsed)
        counts = self._pending.outcomes.stats.setdefault((*key, minute, bucket), [0, 0])
        counts[0 if result.ok else 1] += 1

    def _done(self, row: asyncpg.Record) -> None:
        self._pending.outcomes.done.append(row["id"])
        self._queued_outcome(row)

    def _fail(self, row: asyncpg.Record, retry_after: float | None) -> None:
        key = (row["project_id"], row["connector_id"])
        failure = self._pending.outcomes.failed.setdefault(key, Failure())
        failure.delivery_ids.append(row["id"])
        if retry_after is not None:
            failure.retry_after = max(failure.retry_after or 0.0, retry_after)
        self._queued_outcome(row)

    def _queued_outcome(self, row: asyncpg.Record) -> None:
        self._pending.size += 1
        if self._pending.size >= RECORD_BATCH:
            self._recorded.set()

    # -- recording -------------------------------------------------------------------------

    async def _record_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recorded.wait(), RECORD_INTERVAL)
            self._recorded.clear()
            try:
                await self._record()
            except _DATABASE_ERRORS as error:
                # Kept for the next round; the leases cover a longer outage.
                log.warning("outcomes_not_recorded", error=type(error).__name__)
                await asyncio.sleep(RECORD_INTERVAL * 10)
            except Exception:
                log.exception("outcomes_not_recorded")
                await asyncio.sleep(RECORD_INTERVAL * 10)

    async def _record(self) -> None:
        pending, self._pending = self._pending, _Pending()
        outcomes = pending.outcomes
        if not pending.size and not outcomes.stats:
            return
        now = self._clock()
        disable_before = now - timedelta(seconds=self._settings.auto_disable_after)
        try:
            disabled = await deliveries.record(
                self._db, outcomes, now, self._retry_delay, disable_before
            )
        except BaseException:
            self._restore(pending)
            raise
        self._held.difference_update(outcomes.done)
        for failure in outcomes.failed.values():
            self._held.difference_update(failure.delivery_ids)
        self._capacity.set()  # room to claim more
        for project_id, connector_id in disabled:
            self._registry.invalidate(project_id)
            self._metrics.connectors_auto_disabled.inc()
            log.warning("connector_auto_disabled", project=project_id, connector=connector_id)

    def _restore(self, pending: _Pending) -> None:
        """Put unwritten outcomes back in front of those gathered since."""
        newer = self._pending.outcomes
        merged = pending.outcomes
        merged.done.extend(newer.done)
        merged.succeeded |= newer.succeeded
        for key, failure in newer.failed.items():
            kept = merged.failed.setdefault(key, Failure())
            kept.delivery_ids.extend(failure.delivery_ids)
            if failure.retry_after is not None:
                kept.retry_after = max(kept.retry_after or 0.0, failure.retry_after)
        for stats_key, counts in newer.stats.items():
            total = merged.stats.setdefault(stats_key, [0, 0])
            total[0] += counts[0]
            total[1] += counts[1]
        self._pending = _Pending(merged, pending.size + self._pending.size)
