"""Reading the events that publishes announced to event streams (see `store_events`)."""

from __future__ import annotations

import asyncpg

from gateway.store import Executor, sql

CHANNEL = "gateway_events"


def parse_announcement(payload: str) -> tuple[str, list[str]]:
    """(project id, event ids) of one notification on CHANNEL."""
    project_id, *event_ids = payload.split(" ")
    return project_id, event_ids


async def announced_events(
    db: Executor, project_ids: list[str], event_ids: list[str]
) -> list[asyncpg.Record]:
    """(project_id, device_id, event_type, device_type, labels, body) of each event, in order."""
    return await db.fetch(sql("announced_events"), project_ids, event_ids)


async def keepalive(connection: asyncpg.Connection) -> None:
    """A round trip, so that a connection to a dead server is noticed."""
    await connection.execute(sql("keepalive"), timeout=5)
