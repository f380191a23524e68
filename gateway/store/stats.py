"""Per-minute push statistics, and the deletion of old events and statistics."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.store import sql


async def since(
    db: asyncpg.Pool, project_id: str, connector_id: str, start: datetime
) -> tuple[int, int, dict[int, int]]:
    """(successes, errors, attempts per latency bucket) of a connector since `start`."""
    rows = await db.fetch(sql("push_stats_since"), project_id, connector_id, start)
    successes = sum(row["successes"] for row in rows)
    errors = sum(row["errors"] for row in rows)
    buckets = {row["bucket"]: row["successes"] + row["errors"] for row in rows}
    return successes, errors, buckets


async def delete_old(db: asyncpg.Pool, before: datetime, batch: int) -> int:
    """Delete up to `batch` old events and old statistics rows each; return how many went."""
    events = await db.execute(sql("delete_old_events"), before, batch)
    stats = await db.execute(sql("delete_old_push_stats"), before, batch)
    return int(events.split()[-1]) + int(stats.split()[-1])
