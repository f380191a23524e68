"""The delivery log: deliveries that left the queue (delivered, or dropped with a reason), the
log's pages, and what puts events back in the queue (replay, redelivery) or pushes a test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from gateway.model import DELIVERED, DROPPED
from gateway.store import Executor, fetch_one, sql

if TYPE_CHECKING:  # deliveries imports this module to drop settled deliveries
    from gateway.store.deliveries import Attempt

# Ids are a bigint identity: a page token below every id starts at the newest.
NO_CURSOR = 2**63 - 1


def _count(status: str) -> int:
    return int(status.split()[-1])


async def finish(db: Executor, delivered: Sequence[Attempt], now: datetime) -> int:
    """Delivered: out of the queue, into the log; returns how many were still queued."""
    status = await db.execute(
        sql("finish_deliveries"),
        [attempt.delivery_id for attempt in delivered],
        [attempt.event_type for attempt in delivered],
        [attempt.device_id for attempt in delivered],
        now,
    )
    return _count(status)


async def drop_settled(
    db: Executor, delivery_ids: Sequence[int], now: datetime
) -> dict[str, int]:
    """Deliveries settled without a push (expired, connector gone) into the log, with the
    reason each was dropped for; returns the counts per reason."""
    rows = await db.fetch(sql("drop_settled_deliveries"), list(delivery_ids), now)
    return {row["drop_reason"]: row["n"] for row in rows}


async def drop_queue(
    db: Executor, project_id: str, connector_id: str, reason: str, now: datetime
) -> int:
    """Drop a connector's whole queue for `reason` (disabled or deleted)."""
    status = await db.execute(sql("drop_connector_queue"), project_id, connector_id, reason, now)
    return _count(status)


async def drop_filtered(
    db: Executor, project_id: str, connector_id: str, events: Sequence[str], now: datetime
) -> int:
    """Drop a connector's queued deliveries of types its filter `events` no longer takes."""
    if not events:
        return 0  # an empty filter takes every type
    status = await db.execute(
        sql("drop_filtered_deliveries"), project_id, connector_id, list(events), now
    )
    return _count(status)


@dataclass(frozen=True)
class LogQuery:
    """Which of a connector's deliveries a page shows; empty strings and None match all."""

    status: str = ""
    event_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    before_id: int = NO_CURSOR
    limit: int = 100

    def with_limit(self, limit: int) -> LogQuery:
        return replace(self, limit=limit)


async def page(
    db: asyncpg.Pool, project_id: str, connector_id: str, query: LogQuery
) -> list[asyncpg.Record]:
    """A connector's deliveries, queued and finished alike, newest first."""
    return await db.fetch(
        sql("list_deliveries"), project_id, connector_id, query.status, query.event_id,
        query.start, query.end, query.before_id, query.limit,
    )


async def one(
    db: asyncpg.Pool, project_id: str, connector_id: str, delivery_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(sql("get_delivery"), project_id, connector_id, delivery_id)


async def has_connector(db: asyncpg.Pool, project_id: str, connector_id: str) -> bool:
    """Whether the log holds deliveries of this connector (which may be deleted since)."""
    return bool(await db.fetchval(sql("connector_in_log"), project_id, connector_id))


@dataclass(frozen=True)
class Replay:
    """Which stored events a replay queues again for one connector."""

    start: datetime
    end: datetime
    connector_events: Sequence[str]  # the connector's filter ([] = all)
    event_types: Sequence[str] = ()
    devices: Sequence[str] = ()
    only_undelivered: bool = False


async def replay(
    db: asyncpg.Pool,
    project_id: str,
    connector_id: str,
    window: Replay,
    now: datetime,
    expires_at: datetime,
    limit: int,
) -> tuple[int, int]:
    """Queue a window's events again: (events that match, deliveries queued). Nothing is
    queued when more than `limit` match. One statement; dispatchers are woken."""
    async with db.acquire() as connection, connection.transaction():
        row = await fetch_one(
            connection, sql("replay_events"), project_id, connector_id, window.start, window.end,
            list(window.connector_events), list(window.event_types), list(window.devices),
            window.only_undelivered, now, limit, expires_at,
        )
        if row["queued"]:
            await connection.execute(sql("notify_deliveries"))
    return row["candidates"], row["queued"]


async def redeliver(
    db: asyncpg.Pool,
    project_id: str,
    connector_id: str,
    event_ids: Sequence[str],
    now: datetime,
    expires_at: datetime,
) -> set[str]:
    """Queue the named events again for one connector; returns the ids that were known."""
    async with db.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            sql("redeliver_events"), project_id, connector_id, list(event_ids), now, expires_at
        )
        if rows:
            await connection.execute(sql("notify_deliveries"))
    return {row["event_id"] for row in rows}


async def take_test_push(
    db: asyncpg.Pool, project_id: str, connector_id: str, now: datetime, per_minute: int
) -> datetime | None:
    """Count a :test push against the connector's allowance: None when allowed, else the start
    of the minute whose allowance is used up."""
    taken = await db.fetchval(sql("take_test_push"), project_id, connector_id, now, per_minute)
    if taken is not None:
        return None
    start: datetime | None = await db.fetchval(sql("test_window_start"), project_id, connector_id)
    return start or now


async def next_delivery_id(db: Executor) -> int:
    return int(await db.fetchval(sql("next_delivery_id")))


@dataclass(frozen=True)
class TestDelivery:
    """A :test push as the log keeps it: finished at once, never retried."""

    id: int
    project_id: str
    connector_id: str
    event_id: str
    event_type: str
    device_id: str
    delivered: bool


async def log_test(db: Executor, test: TestDelivery, now: datetime) -> None:
    await db.execute(
        sql("log_test_delivery"), test.id, test.project_id, test.connector_id, test.event_id,
        test.event_type, test.device_id, DELIVERED if test.delivered else DROPPED, now,
    )

