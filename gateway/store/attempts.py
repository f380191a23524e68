"""The attempt log: one row per push attempt, written with COPY in batches, kept for the
attempt retention and deleted in bounded batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gateway.store import Connection, sql
from gateway.store.deliveries import Attempt

COLUMNS = (
    "time", "project_id", "connector_id", "delivery_id", "event_id", "event_type", "device_id",
    "attempt", "status_code", "error_class", "message", "latency", "response", "test",
)  # fmt: skip


def _record(attempt: Attempt, test: bool) -> tuple[object, ...]:
    """An attempt as a row: its status or error, never a request header or a secret."""
    return (
        attempt.at, attempt.project_id, attempt.connector_id, attempt.delivery_id,
        attempt.event_id, attempt.event_type, attempt.device_id, attempt.number, attempt.status,
        attempt.error or "", attempt.message or "", attempt.latency,
        attempt.response_excerpt or "", test,
    )  # fmt: skip


async def write(connection: Connection, attempts: Sequence[Attempt], *, test: bool = False) -> None:
    """Append attempts in one COPY, inside the connection's transaction if it has one."""
    if attempts:
        records = [_record(attempt, test) for attempt in attempts]
        await connection.copy_records_to_table("attempts", records=records, columns=COLUMNS)


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
