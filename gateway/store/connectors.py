"""Data connector rows. Every change notifies `gateway_connectors` so each replica's cache
refreshes, and a connector that stops being ACTIVE loses its queue in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from gateway.model import ACTIVE, Connector
from gateway.store import fetch_one, sql


def _values(connector: Connector) -> tuple[object, ...]:
    return (
        connector.project_id,
        connector.id,
        connector.display_name,
        connector.status,
        list(connector.events),
        list(connector.labels),
        connector.url,
        connector.signature_secret,
        dict(connector.headers),
        connector.type,
        dict(connector.config),
    )


async def list_page(db: asyncpg.Pool, project_id: str, after: str, limit: int) -> list[Connector]:
    rows = await db.fetch(sql("list_connectors"), project_id, after, limit)
    return [Connector.from_row(dict(row)) for row in rows]


async def get(db: asyncpg.Pool, project_id: str, connector_id: str) -> Connector | None:
    row = await db.fetchrow(sql("get_connector"), project_id, connector_id)
    return Connector.from_row(dict(row)) if row else None


async def of_project(db: asyncpg.Pool, project_id: str) -> list[Connector]:
    rows = await db.fetch(sql("connectors_of_project"), project_id)
    return [Connector.from_row(dict(row)) for row in rows]


async def insert(
    db: asyncpg.Pool, connector: Connector, now: datetime, limit: int | None = None
) -> Connector | None:
    """Store a new connector; None when its project already has `limit` connectors."""
    async with db.acquire() as connection, connection.transaction():
        if limit is not None:
            await connection.execute(sql("lock_project_connectors"), connector.project_id)
            held = await connection.fetchval(sql("count_project_connectors"), connector.project_id)
            if held >= limit:
                return None
        row = await fetch_one(connection, sql("insert_connector"), *_values(connector), now)
        await connection.execute(sql("notify_connector_changed"), connector.project_id)
    return Connector.from_row(dict(row))


async def update(
    db: asyncpg.Pool,
    project_id: str,
    connector_id: str,
    change: Callable[[Connector], Connector],
) -> Connector | None:
    """Apply `change` to the stored connector under a row lock; None if it does not exist."""
    async with db.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(sql("get_connector_for_update"), project_id, connector_id)
        if row is None:
            return None
        changed = change(Connector.from_row(dict(row)))
        updated = await fetch_one(connection, sql("update_connector"), *_values(changed))
        if changed.status != ACTIVE:
            await connection.execute(sql("drop_connector_queue"), project_id, connector_id)
        await connection.execute(sql("notify_connector_changed"), project_id)
    return Connector.from_row(dict(updated))


async def delete(db: asyncpg.Pool, project_id: str, connector_id: str) -> bool:
    async with db.acquire() as connection, connection.transaction():
        gone = await connection.fetchval(sql("delete_connector"), project_id, connector_id)
        if gone is None:
            return False
        await connection.execute(sql("drop_connector_queue"), project_id, connector_id)
        await connection.execute(sql("notify_connector_changed"), project_id)
    return True


async def count_by_status(db: asyncpg.Pool) -> dict[str, int]:
    return {row["status"]: row["n"] for row in await db.fetch(sql("count_connectors_by_status"))}
