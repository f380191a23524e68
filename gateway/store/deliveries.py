"""The delivery queue: publishing into it, claiming from it, and recording outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from gateway.store import Connection, Executor, fetch_one, sql


@dataclass(frozen=True)
class StoredBatch:
    """What one publish stored: devices found, types of events new to the store, deliveries."""

    known: int
    stored_types: list[str]
    queued: int


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
    return StoredBatch(row["known"], row["stored_types"] or [], row["queued"])


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


@dataclass
class Failure:
    """A connector's failed pushes in one round, and the longest Retry-After it asked for."""

    delivery_ids: list[int] = field(default_factory=list)
    retry_after: float | None = None


@dataclass
class Outcomes:
    """The results of one round of pushes, written back in a few batched statements."""

    done: list[int] = field(default_factory=list)
    succeeded: set[tuple[str, str]] = field(default_factory=set)
    failed: dict[tuple[str, str], Failure] = field(default_factory=dict)
    # (project, connector, minute, latency bucket) -> [successes, errors]
    stats: dict[tuple[str, str, datetime, int], list[int]] = field(default_factory=dict)


RetryPolicy = Callable[[int, float | None], timedelta]


async def record(
    db: asyncpg.Pool,
    outcomes: Outcomes,
    now: datetime,
    retry_delay: RetryPolicy,
    disable_before: datetime,
) -> list[tuple[str, str]]:
    """Write a round's outcomes; return the connectors this round disabled.

    A failing connector's queue waits as a whole for its next retry, whose delay grows with the
    connector's failure streak (`retry_delay(streak, retry_after)`).
    """
    # Connector rows are locked before delivery rows, the order connector edits take too.
    async with db.acquire() as connection, connection.transaction():
        if outcomes.succeeded:
            await connection.execute(sql("record_successes"), *_split(outcomes.succeeded), now)
        if not outcomes.failed:
            disabled = []
        else:
            await _record_failures(connection, outcomes.failed, now, retry_delay)
            disabled = await _auto_disable(
                connection, list(outcomes.failed), disable_before, now
            )
        if outcomes.done:
            await connection.execute(sql("complete_deliveries"), outcomes.done)
        if outcomes.stats:
            await connection.execute(sql("add_push_stats"), *_stats_columns(outcomes.stats))
    return disabled


async def _record_failures(
    connection: Connection,
    failed: dict[tuple[str, str], Failure],
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
) -> list[tuple[str, str]]:
    rows = await connection.fetch(sql("auto_disable"), *_split(set(keys)), disable_before, now)
    disabled = [(row["project_id"], row["id"]) for row in rows]
    for project_id in {project for project, _ in disabled}:
        await connection.execute(sql("notify_connector_changed"), project_id)
    return disabled


def _split(keys: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    ordered = sorted(keys)
    return [project for project, _ in ordered], [connector for _, connector in ordered]


def _stats_columns(
    stats: dict[tuple[str, str, datetime, int], list[int]],
) -> tuple[list[object], ...]:
    keys = sorted(stats)
    return (
        [key[0] for key in keys],
        [key[1] for key in keys],
        [key[2] for key in keys],
        [key[3] for key in keys],
        [stats[key][0] for key in keys],
        [stats[key][1] for key in keys],
    )
