"""The delivery queue: claiming from it and recording outcomes (gateway/store/enqueue.py fills
it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from gateway import latency
from gateway.model import CONNECTOR_DISABLED
from gateway.store import Connection, delivery_log, fetch_one, sql


class DeliveryRow(Protocol):
    """A delivery to push, with its event: a row a claim returned, or one a publish leased to
    this process as it queued it (gateway/ingest/hand_off.py), read by column name."""

    def __getitem__(self, column: str, /) -> Any: ...


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


class Backoff(Protocol):
    """When a failed delivery, or a connector in probing, is tried again."""

    @property
    def probe_after(self) -> int:
        """Failed pushes in a row that put a connector into probing."""

    def delay(self, failures: int, retry_after: float | None = None) -> timedelta: ...


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
    acknowledged: bool = False  # a broker confirmed it (connectors that are not HTTP_PUSH)

    @property
    def ok(self) -> bool:
        return self.acknowledged or (self.status is not None and 200 <= self.status < 300)

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


@dataclass
class ConnectorOutcomes:
    """One connector's pushes in a batch: any success, and the failures after the last one."""

    succeeded: bool = False
    failures: int = 0
    retry_after: float | None = None  # the longest a failed push asked for


def _by_connector(attempts: Sequence[Attempt]) -> dict[ConnectorKey, ConnectorOutcomes]:
    outcomes: dict[ConnectorKey, ConnectorOutcomes] = {}
    for attempt in attempts:  # in the order they ended
        summary = outcomes.setdefault(attempt.connector, ConnectorOutcomes())
        if attempt.ok:
            summary.succeeded, summary.failures, summary.retry_after = True, 0, None
        else:
            summary.failures += 1
            if attempt.retry_after is not None:
                summary.retry_after = max(summary.retry_after or 0.0, attempt.retry_after)
    return outcomes


async def record(
    db: asyncpg.Pool,
    batch: OutcomeBatch,
    now: datetime,
    policy: Backoff,
    disable_before: datetime,
    sinks: Sequence[BatchSink] = (),
) -> list[ConnectorKey]:
    """Write a batch of outcomes in one transaction; return the connectors it disabled.

    A failed delivery waits for its own retry (`policy.delay(attempt number, Retry-After)`);
    a connector whose failed pushes in a row reach `policy.probe_after` goes into probing, its
    next probe after `policy.delay(streak - probe_after + 1, Retry-After)`.
    """
    outcomes = _by_connector(batch.attempts)
    failed = [a for a in batch.attempts if not a.ok]
    delivered = [a.delivery_id for a in batch.attempts if a.ok]
    dropped: dict[str, int] = {}
    # Connector rows are locked before delivery rows, the order connector edits take too.
    async with db.acquire() as connection, connection.transaction():
        disabled: list[ConnectorKey] = []
        if outcomes:
            await _record_connectors(connection, outcomes, now, policy)
            failing = [key for key, summary in outcomes.items() if summary.failures]
            disabled, dropped[CONNECTOR_DISABLED] = await _auto_disable(
                connection, failing, disable_before, now
            )
        if failed:
            retry_at = [now + policy.delay(a.number, a.retry_after) for a in failed]
            ids = [a.delivery_id for a in failed]
            await connection.execute(sql("retry_deliveries"), ids, retry_at)
        if batch.deferred:
            deferred = [i for ids in batch.deferred.values() for i in ids]
            await connection.execute(sql("defer_deliveries"), deferred, now)
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


async def _record_connectors(
    connection: Connection,
    outcomes: dict[ConnectorKey, ConnectorOutcomes],
    now: datetime,
    policy: Backoff,
) -> None:
    keys = sorted(outcomes)
    rows = await connection.fetch(
        sql("record_connector_outcomes"),
        [project for project, _ in keys],
        [connector for _, connector in keys],
        [outcomes[key].succeeded for key in keys],
        [outcomes[key].failures for key in keys],
        now,
    )
    probing = [row for row in rows if row["failure_streak"] >= policy.probe_after]
    if not probing:
        return
    retry_at = [
        now + policy.delay(
            row["failure_streak"] - policy.probe_after + 1,
            outcomes[(row["project_id"], row["id"])].retry_after,
        )
        for row in probing
    ]
    await connection.execute(
        sql("set_connector_retries"),
        [row["project_id"] for row in probing],
        [row["id"] for row in probing],
        retry_at,
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
