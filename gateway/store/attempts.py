"""The attempt log: one row per push attempt, written with COPY in batches, kept for the
attempt retention and deleted in bounded batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime

import asyncpg

from gateway.store import Executor, sql

RESPONSE_LIMIT = 1024  # characters of a receiver's answer kept


@dataclass(frozen=True)
class Attempt:
    """One push attempt as stored: never a request header's value or a secret."""

    time: datetime
    project_id: str
    connector_id: str
    delivery_id: int
    event_id: str
    event_type: str
    device_id: str
    attempt: int
    status_code: int | None  # None when no HTTP answer came
    error_class: str  # "" when an HTTP answer came; else timeout, tls, dns, refused, ...
    message: str
    latency: float  # seconds
    response: str  # the first RESPONSE_LIMIT characters of a text or JSON answer
    test: bool = False


COLUMNS = tuple(f.name for f in fields(Attempt))


async def write(db: Executor, attempts: Sequence[Attempt]) -> None:
    """Append attempts in one COPY (on a connection, inside its transaction if it has one)."""
    if not attempts:
        return
    records = [astuple(attempt) for attempt in attempts]
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as connection:
            await connection.copy_records_to_table("attempts", records=records, columns=COLUMNS)
    else:
        await db.copy_records_to_table("attempts", records=records, columns=COLUMNS)


async def of_deliveries(
    db: asyncpg.Pool, project_id: str, delivery_ids: Sequence[int]
) -> dict[int, list[asyncpg.Record]]:
    """Each delivery's attempts, oldest first."""
    rows = await db.fetch(sql("attempts_of_deliveries"), list(delivery_ids), project_id)
    found: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["delivery_id"], []).append(row)
    return found


async def delete_old(db: asyncpg.Pool, before: datetime, batch: int) -> int:
    """Delete up to `batch` attempts and finished deliveries each older than `before`."""
    attempts = await db.execute(sql("delete_old_attempts"), before, batch)
    finished = await db.execute(sql("delete_old_finished_deliveries"), before, batch)
    return int(attempts.split()[-1]) + int(finished.split()[-1])
