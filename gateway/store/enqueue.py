"""Putting deliveries in the queue: the publish statement, which stores events and queues their
deliveries (leasing to this process those it takes at once), and `:sync`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import orjson

from gateway.store import Executor, fetch_one, sql


@dataclass(frozen=True)
class HandOffRoom:
    """New deliveries the statement that queues them may lease to this process at once."""

    lease_until: datetime
    limit: int  # in all
    per_connector: int  # of one connector
    closed: list[str]  # connectors this process takes none of now


@dataclass(frozen=True)
class StoredBatch:
    """What one publish stored: devices found, types of events new to the store, deliveries,
    the stored bodies of events whose ids were stored before, and the deliveries leased to
    this process: (delivery id, connector id, event id), with their devices as
    {device id: (labels, type, product number)}."""

    known: int
    stored_types: list[str]
    queued: int
    existing: list[bytes] = field(default_factory=list)
    taken: list[tuple[int, str, str]] = field(default_factory=list)
    taken_devices: dict[str, tuple[dict[str, str], str, str]] = field(default_factory=dict)


async def store_events(
    db: Executor,
    project_id: str,
    now: datetime,
    expires_at: datetime,
    columns: tuple[list[str], list[str], list[str], list[datetime], list[bytes]],
    room: HandOffRoom | None = None,
) -> StoredBatch:
    """Store events (ids, device ids, types, timestamps, bodies) and queue their deliveries,
    leasing to this process those `room` lets it take.

    One statement: it commits as a whole or not at all, and wakes the dispatchers when it
    commits if it left work to claim.
    """
    taking = (None, 0, 0, []) if room is None else (
        room.lease_until, room.limit, room.per_connector, room.closed
    )  # fmt: skip
    row = await fetch_one(
        db, sql("store_events"), project_id, now, expires_at, *columns, *taking
    )
    taken = orjson.loads(row["taken"] or "[]")
    devices = orjson.loads(row["taken_devices"] or "[]")
    return StoredBatch(
        row["known"], row["stored_types"] or [], row["queued"], row["existing"] or [],
        taken=[(delivery, connector, event) for delivery, connector, event in taken],
        taken_devices={device: tuple(rest) for device, *rest in devices},
    )  # fmt: skip


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
