"""Data connector rows. Every change notifies `gateway_connectors` so each replica's cache
refreshes. A connector that stops being ACTIVE, or is deleted, loses its queue in the same
transaction, and a narrower `events` filter drops what it no longer takes; every dropped delivery
goes to the delivery log with its reason, and `dropped(reason, count)` hears of it.
A connector's secrets are stored sealed, as one value (see connector_secrets.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from gateway.model import ACTIVE, CONNECTOR_DELETED, CONNECTOR_DISABLED, FILTER_CHANGED, Connector
from gateway.store import delivery_log, fetch_one, sql
from gateway.store.connector_secrets import (
    clear_config,
    clear_headers,
    clear_url,
    open_row,
    seal_secrets,
)
from gateway.store.crypto import SecretBox

Dropped = Callable[[str, int], None]


def _ignore(_reason: str, _count: int) -> None:
    pass


def _values(connector: Connector, box: SecretBox) -> tuple[object, ...]:
    return (
        connector.project_id,
        connector.id,
        connector.display_name,
        connector.status,
        list(connector.events),
        list(connector.labels),
        clear_url(connector.url),
        clear_headers(connector.headers),
        connector.type,
        clear_config(connector.config),
        seal_secrets(box, connector),
    )


def _destination(connector: Connector) -> tuple[object, ...]:
    """Where the connector delivers, credentials included: a change starts a fresh record.
    Custom headers are not part of it: changing them keeps the record."""
    return connector.type, connector.url, dict(connector.config)


async def list_page(
    db: asyncpg.Pool, box: SecretBox, project_id: str, after: str, limit: int
) -> list[Connector]:
    rows = await db.fetch(sql("list_connectors"), project_id, after, limit)
    return [open_row(row, box) for row in rows]


async def get(
    db: asyncpg.Pool, box: SecretBox, project_id: str, connector_id: str
) -> Connector | None:
    row = await db.fetchrow(sql("get_connector"), project_id, connector_id)
    return open_row(row, box) if row else None


async def of_project(db: asyncpg.Pool, box: SecretBox, project_id: str) -> list[Connector]:
    rows = await db.fetch(sql("connectors_of_project"), project_id)
    return [open_row(row, box) for row in rows]


async def insert(
    db: asyncpg.Pool,
    box: SecretBox,
    connector: Connector,
    now: datetime,
    limit: int | None = None,
) -> Connector | None:
    """Store a new connector; None when its project already has `limit` connectors."""
    async with db.acquire() as connection, connection.transaction():
        if limit is not None:
            await connection.execute(sql("lock_project_for_new_connector"), connector.project_id)
            held = await connection.fetchval(sql("count_project_connectors"), connector.project_id)
            if held >= limit:
                return None
        row = await fetch_one(connection, sql("insert_connector"), *_values(connector, box), now)
        await connection.execute(sql("notify_connector_changed"), connector.project_id)
    return open_row(row, box)


async def update(
    db: asyncpg.Pool,
    box: SecretBox,
    project_id: str,
    connector_id: str,
    change: Callable[[Connector], Connector],
    now: datetime,
    dropped: Dropped = _ignore,
) -> Connector | None:
    """Apply `change` to the stored connector under a row lock; None if it does not exist."""
    async with db.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(sql("get_connector_for_update"), project_id, connector_id)
        if row is None:
            return None
        current = open_row(row, box)
        changed = change(current)
        moved = _destination(changed) != _destination(current)
        query = sql("update_connector")
        updated = await fetch_one(connection, query, *_values(changed, box), moved)
        if changed.status != ACTIVE:
            reason = CONNECTOR_DISABLED
            count = await delivery_log.drop_queue(
                connection, project_id, connector_id, reason, now
            )
        else:
            reason = FILTER_CHANGED
            count = 0
            if changed.events != current.events:
                count = await delivery_log.drop_filtered(
                    connection, project_id, connector_id, changed.events, now
                )
        await connection.execute(sql("notify_connector_changed"), project_id)
    dropped(reason, count)
    return open_row(updated, box)


async def delete(
    db: asyncpg.Pool,
    project_id: str,
    connector_id: str,
    now: datetime,
    dropped: Dropped = _ignore,
) -> bool:
    async with db.acquire() as connection, connection.transaction():
        gone = await connection.fetchval(sql("delete_connector"), project_id, connector_id)
        if gone is None:
            return False
        count = await delivery_log.drop_queue(
            connection, project_id, connector_id, CONNECTOR_DELETED, now
        )
        await connection.execute(sql("notify_connector_changed"), project_id)
    dropped(CONNECTOR_DELETED, count)
    return True


async def count_by_status(db: asyncpg.Pool) -> dict[str, int]:
    return {row["status"]: row["n"] for row in await db.fetch(sql("count_connectors_by_status"))}
