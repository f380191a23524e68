"""The delivery queue: publishing into it, claiming from it, and recording outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from gateway import latency
from gateway.model import CONNECTOR_DISABLED
from gateway.store import Connection, Executor, delivery_log, fetch_one, sql


@dataclass(frozen=True)
class StoredBatch:
    """What one publish stored: devices found, types of events new to the store, deliveries,
    and the stored bodies of events whose ids were stored before."""

    known: int
    stored_types: list[str]
    queued: int
    existing: list[bytes] = field(default_factory=list)


async def store_events(
    db: Executor,
    project_id: str,
    now: datetime,
    expires_at: datetime,
    columns: tuple[list[str], list[str], list[str], list[datetime], list[bytes]],
) -> StoredBatch:
    """Store events (ids, device ids, types, timestamps, bodies) and queue their deliveries.

    One statement: it commits as a whole or not at all. Wakes the dispatchers if it queued work
    (on a connection inside a transaction, when that transaction commits).
    """
    row = await fetch_one(db, sql("store_events"), project_id, now, expires_at, *columns)
    if row["queued"]:
        await db.execute(sql("notify_deliveries"))
    return StoredBatch(
        row["known"], row["stored_types"] or [], row["queued"], row["existing"] or []
    )


async def enqueue_sync(
    db: asyncpg.Pool,
    project_id: str,
    connector_id: str,
    events: Sequence[str],
    now: datetime,
    expires_at: datetime,
) -> int:
    async with db.acquire() as connection:
        status = await connection.execute(
            sql("enqueue_sync"), project_id, connector_id, now, expires_at, list(events)
        )
        queued = int(status.split()[-1])
        if queued:
            await connection.execute(sql("notify_deliveries"))
    return queued


async def claim(
    db: asyncpg.Pool,
    now: datetime,
    limit: int,
    lease_until: datetime,
    busy: Sequence[str],
    per_connector: int,
    after: tuple[str, str] = ("", ""),
) -> list[asyncpg.Record]:
    """Up to `limit` due deliveries, at most `per_connector` of any connector, none of `busy`,
    visiting connectors in turn from the one after `after` (project, connector)."""
    return await db.fetch(
        sql("claim_deliveries"), now, limit, lease_until, list(busy), per_connector, *after
    )


async def release(db: asyncpg.Pool, ids: Sequence[int], now: datetime) -> None:
    await db.execute(sql("release_deliveries"), list(ids), now)


async def expire(db: asyncpg.Pool, now: datetime, limit: int) -> int:
    status = await db.execute(sql("expire_deliveries"), now, limit)
    return int(status.split()[-1])


async def queue_depth(db: asyncpg.Pool) -> tuple[int, datetime | None]:
    row = await fetch_one(db, sql("queue_depth"))
    return row["pending"], row["oldest_due"]


ConnectorKey = tuple[str, str]  # (project, connector)
RetryPolicy = Callable[[int, float | None], timedelta]  # (failures in a row, Retry-After)


@dataclass(slots=True)
class Attempt:
    """One push and how it ended: what the recorder writes, and what an attempt log would keep."""

    delivery_id: int
    project_id: str
    connector_id: str
    event_id: str
    event_type: str
    device_id: str
    number: int  # 1 for the first push of this delivery
    at: datetime  # when the answer (or the error) came
    latency: float  # seconds from the request to its outcome
    status: int | None  # the HTTP status; None when no answer came
    error: str | None = None  # error class: timeout, tls, dns, connection_refused, ...
    message: str | None = None  # a short sentence about the error, for people
    retry_after: float | None = None  # what a 429 or 503 asked for, in seconds
    response_excerpt: str | None = None  # the first KiB of a text or JSON answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def connector(self) -> ConnectorKey:
        return (self.project_id, self.connector_id)


@dataclass
class OutcomeBatch:
    """Outcomes gathered since the last write, written back in a few batched statements."""

    attempts: list[Attempt] = field(default_factory=list)  # in the order they ended
    settled: list[int] = field(default_factory=list)  # dropped without a push: expired, gone
    deferred: dict[ConnectorKey, list[int]] = field(default_factory=dict)  # not pushed, wait
    # Set by `record` once written: deliveries it dropped into the log, by reason.
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.attempts) + len(self.settled) + sum(map(len, self.deferred.values()))

    def delivery_ids(self) -> list[int]:
        ids = [attempt.delivery_id for attempt in self.attempts] + self.settled
        return ids + [i for deferred in self.deferred.values() for i in deferred]

    def extend(self, newer: OutcomeBatch) -> None:
        """Append what was gathered after this batch (a batch put back after a failed write)."""
        self.attempts.extend(newer.attempts)
        self.settled.extend(newer.settled)
        for key, ids in newer.deferred.items():
            self.deferred.setdefault(key, []).extend(ids)


# Written in the batch's own transaction after the connectors' outcomes and before the delivered
# deliveries leave the queue, so that it can still read them (the attempt log, for one).
BatchSink = Callable[[Connection, OutcomeBatch], Awaitable[None]]


async def record(
    db: asyncpg.Pool,
    batch: OutcomeBatch,
    now: datetime,
    retry_delay: RetryPolicy,
    disable_before: datetime,
    sinks: Sequence[BatchSink] = (),
) -> list[ConnectorKey]:
    """Write a batch of outcomes in one transaction; return the connectors it disabled.

    A failing connector's queue waits as a whole for its next retry, whose delay grows with the
    connector's failure streak (`retry_delay(streak, retry_after)`).
    """
    succeeded = {a.connector for a in batch.attempts if a.ok}
    failed: dict[ConnectorKey, Failure] = {}
    for attempt in batch.attempts:
        if not attempt.ok:
            failure = failed.setdefault(attempt.connector, Failure())
            failure.delivery_ids.append(attempt.delivery_id)
            if attempt.retry_after is not None:
                failure.retry_after = max(failure.retry_after or 0.0, attempt.retry_after)
    for key, ids in batch.deferred.items():
        failed.setdefault(key, Failure()).delivery_ids.extend(ids)
    delivered = [a.delivery_id for a in batch.attempts if a.ok]
    dropped: dict[str, int] = {}
    # Connector rows are locked before delivery rows, the order connector edits take too.
    async with db.acquire() as connection, connection.transaction():
        if succeeded:
            await connection.execute(sql("record_successes"), *_split(succeeded), now)
        disabled: list[ConnectorKey] = []
        if failed:
            await _record_failures(connection, failed, now, retry_delay)
            disabled, dropped[CONNECTOR_DISABLED] = await _auto_disable(
                connection, list(failed), disable_before, now
            )
        for sink in sinks:
            await sink(connection, batch)
        if delivered:
            await connection.execute(sql("complete_deliveries"), delivered)
        if batch.settled:
            settled = await delivery_log.drop_settled(connection, batch.settled, now)
            for reason, count in settled.items():
                dropped[reason] = dropped.get(reason, 0) + count
        if batch.attempts:
            await connection.execute(sql("add_push_stats"), *_stats_columns(batch.attempts))
    batch.dropped = dropped
    return disabled


@dataclass
class Failure:
    """A connector's failed pushes in one batch, and the longest Retry-After it asked for."""

    delivery_ids: list[int] = field(default_factory=list)
    retry_after: float | None = None


async def _record_failures(
    connection: Connection,
    failed: dict[ConnectorKey, Failure],
    now: datetime,
    retry_delay: RetryPolicy,
) -> None:
    rows = await connection.fetch(sql("record_failures"), *_split(set(failed)), now)
    projects, connectors, retry_at, ids = [], [], [], []
    for row in rows:
        failure = failed[(row["project_id"], row["id"])]
        projects.append(row["project_id"])
        connectors.append(row["id"])
        retry_at.append(now + retry_delay(row["failure_streak"], failure.retry_after))
        ids.extend(failure.delivery_ids)
    await connection.execute(
        sql("defer_connector_queues"), projects, connectors, retry_at, now, ids
    )


async def _auto_disable(
    connection: Connection, keys: list[tuple[str, str]], disable_before: datetime, now: datetime
) -> tuple[list[tuple[str, str]], int]:
    """(connectors disabled, deliveries of theirs dropped into the log)."""
    rows = await connection.fetch(sql("auto_disable"), *_split(set(keys)), disable_before, now)
    disabled = [(row["project_id"], row["id"]) for row in rows]
    for project_id in {project for project, _ in disabled}:
        await connection.execute(sql("notify_connector_changed"), project_id)
    return disabled, rows[0]["dropped"] if rows else 0


def _split(keys: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    ordered = sorted(keys)
    return [project for project, _ in ordered], [connector for _, connector in ordered]


def _stats_columns(attempts: Sequence[Attempt]) -> tuple[list[object], ...]:
    """Per-minute, per-latency-bucket counts of successes and errors, one row per key."""
    stats: dict[tuple[str, str, datetime, int], list[int]] = {}
    for attempt in attempts:
        minute = attempt.at.replace(second=0, microsecond=0)
        key = (attempt.project_id, attempt.connector_id, minute, latency.bucket_of(attempt.latency))
        stats.setdefault(key, [0, 0])[0 if attempt.ok else 1] += 1
    keys = sorted(stats)
    return (
        [key[0] for key in keys],
        [key[1] for key in keys],
        [key[2] for key in keys],
        [key[3] for key in keys],
        [stats[key][0] for key in keys],
        [stats[key][1] for key in keys],
    )
