"""Devices, their labels, their latest events (`reported`) and their event history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.store import Connection, fetch_one, sql


async def insert(
    db: asyncpg.Pool,
    project_id: str,
    device_id: str,
    device_type: str,
    product_number: str,
    labels: Mapping[str, str],
    now: datetime,
) -> asyncpg.Record:
    return await fetch_one(
        db, sql("insert_device"), project_id, device_id, device_type, product_number,
        dict(labels), now,
    )


async def get(db: asyncpg.Pool, project_id: str, device_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("get_device"), project_id, device_id)


async def find(
    db: asyncpg.Pool, project_ids: list[str] | None, device_id: str
) -> asyncpg.Record | None:
    """A device in any of `project_ids` (None: any live project)."""
    return await db.fetchrow(sql("find_device"), project_ids, device_id)


@dataclass(frozen=True)
class DeviceFilter:
    """Which devices a listing shows: every given condition must hold."""

    ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # key = value
    label_keys: list[str] = field(default_factory=list)  # key present, any value


async def list_page(
    db: asyncpg.Pool, project_id: str, after: str, limit: int, where: DeviceFilter
) -> list[asyncpg.Record]:
    return await db.fetch(
        sql("list_devices"), project_id, after, limit, where.ids, where.types, where.labels,
        where.label_keys,
    )


async def delete(db: asyncpg.Pool, project_id: str, device_id: str) -> bool:
    return await db.fetchval(sql("delete_device"), project_id, device_id) is not None


async def reported(
    db: asyncpg.Pool, project_id: str, device_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Each device's latest event data per type: {device: {eventType: data}}."""
    rows = await db.fetch(sql("reported_of_devices"), project_id, device_ids)
    result: dict[str, dict[str, Any]] = {device: {} for device in device_ids}
    for row in rows:
        data = orjson.loads(row["body"])["data"]
        result[row["device_id"]][row["event_type"]] = data.get(row["event_type"])
    return result


async def relabel(
    db: asyncpg.Pool,
    project_id: str,
    device_ids: list[str],
    change: Callable[[asyncpg.Record], dict[str, str] | None],
    after_change: Callable[[Connection, list[tuple[asyncpg.Record, dict[str, str]]]], Any],
) -> set[str]:
    """Set new labels on devices under row locks; `change` returns None to leave one as it is.

    `after_change` runs in the same transaction with (old row, new labels) of changed devices.
    Returns the ids that exist.
    """
    async with db.acquire() as connection, connection.transaction():
        rows = await connection.fetch(sql("devices_for_update"), project_id, device_ids)
        changed = []
        for row in rows:
            labels = change(row)
            if labels is not None:
                await connection.execute(sql("set_device_labels"), project_id, row["id"], labels)
                changed.append((row, labels))
        if changed:
            await after_change(connection, changed)
    return {row["id"] for row in rows}


async def history(
    db: asyncpg.Pool,
    project_id: str,
    device_id: str,
    start: datetime,
    end: datetime,
    event_types: list[str],
    after: tuple[datetime, str],
    limit: int,
) -> list[asyncpg.Record]:
    """(id, timestamp, body) of a device's events in [start, end), oldest first, after the
    (timestamp, id) key."""
    return await db.fetch(
        sql("event_history"), project_id, device_id, start, end, event_types, *after, limit
    )
