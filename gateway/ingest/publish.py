"""Turning published data into stored events and their deliveries, in one transaction.

An event's serialised form is made once here and stored; every push embeds those same bytes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from gateway.errors import BadRequest, NotFound
from gateway.ids import new_id
from gateway.ingest.eventdata import format_timestamp
from gateway.ingest.hand_off import Dispatch, taken_rows
from gateway.metrics import Metrics
from gateway.store import Executor, enqueue
from gateway.store.enqueue import StoredBatch

EVENT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


@dataclass(frozen=True)
class NewEvent:
    """An event about to be stored."""

    id: str
    device_id: str
    event_type: str
    data: dict[str, Any]
    timestamp: datetime

    def to_json(self, project_id: str) -> dict[str, Any]:
        return {
            "eventId": self.id,
            "targetName": f"projects/{project_id}/devices/{self.device_id}",
            "eventType": self.event_type,
            "data": self.data,
            "timestamp": format_timestamp(self.timestamp),
        }


def new_event(
    device_id: str, event_type: str, data: dict[str, Any], now: datetime, event_id: str | None
) -> NewEvent:
    """An event for validated `data`; its time is the data's updateTime, else `now`."""
    if event_id is None:
        event_id = new_id()
    elif not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        raise BadRequest("eventId must be 1 to 64 letters, digits, '-' or '_'")
    update_time = data.get(event_type, {}).get("updateTime")
    # Validation wrote it as format_timestamp does, which fromisoformat reads in C.
    timestamp = datetime.fromisoformat(update_time) if isinstance(update_time, str) else now
    return NewEvent(event_id, device_id, event_type, data, timestamp)


def bodies(project_id: str, events: Sequence[NewEvent]) -> list[bytes]:
    """Each event as stored and pushed, and as the publish answers it."""
    return [orjson.dumps(event.to_json(project_id)) for event in events]


async def store(
    db: Executor,
    project_id: str,
    events: Sequence[NewEvent],
    event_bodies: list[bytes],
    now: datetime,
    max_age: timedelta,
    metrics: Metrics,
    dispatch: Dispatch | None = None,
) -> StoredBatch:
    """Store events whose devices exist, with one delivery per matching ACTIVE connector.

    An event id already stored in the project is skipped, so publishing is idempotent. When one
    event names an unknown device, nothing is stored. `event_bodies` are `bodies(project_id,
    events)`, made once for the store and the answer. With `dispatch` (only where the statement
    commits by itself), the deliveries it can take now are handed to it.
    """
    columns = (
        [event.id for event in events],
        [event.device_id for event in events],
        [event.event_type for event in events],
        [event.timestamp for event in events],
        event_bodies,
    )
    expires_at = now + max_age
    room = None if dispatch is None else dispatch.hand_off_room(now)
    batch = await enqueue.store_events(db, project_id, now, expires_at, columns, room)
    if batch.known < len(events):
        raise NotFound("device not found")
    if batch.taken and dispatch is not None:
        stored = zip(columns[0], columns[1], columns[2], event_bodies, strict=True)
        await dispatch.take_over(taken_rows(project_id, list(stored), batch, now, expires_at))
    for event_type, count in Counter(batch.stored_types).items():
        metrics.events_published.labels(event_type).inc(count)
    metrics.deliveries_enqueued.labels("publish").inc(batch.queued)
    return batch


def answers(
    events: Sequence[NewEvent], event_bodies: Sequence[bytes], batch: StoredBatch
) -> list[orjson.Fragment]:
    """The events as stored, as JSON to answer with: a republished id answers with the event
    stored first, unchanged."""
    stored = {orjson.loads(body)["eventId"]: body for body in batch.existing}
    return [
        orjson.Fragment(stored.get(event.id, body))
        for event, body in zip(events, event_bodies, strict=True)
    ]
