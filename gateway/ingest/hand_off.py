"""Fresh deliveries handed to this process's dispatcher by the statement that queues them.

A publish asks the dispatcher what it can take now (`HandOffRoom`: about what its next claim
would take). The statement that stores the events leases those deliveries to this process, as
a claim would, and returns them, and the dispatcher pushes them at once: no NOTIFY, no claim,
no second read of the events. Everything else is still claimed: a backlog (a connector with
older deliveries due takes none), retries, what other replicas publish, and these same
deliveries if this process ends before pushing them (their lease runs out).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from gateway.store.deliveries import DeliveryRow
from gateway.store.enqueue import HandOffRoom, StoredBatch


class Dispatch(Protocol):
    """This process's dispatcher, as a publish sees it."""

    def hand_off_room(self, now: datetime) -> HandOffRoom | None: ...

    async def take_over(self, rows: Sequence[DeliveryRow]) -> None: ...


def taken_rows(
    project_id: str,
    events: Sequence[tuple[str, str, str, bytes]],
    batch: StoredBatch,
    now: datetime,
    expires_at: datetime,
) -> list[dict[str, Any]]:
    """The deliveries `batch` leased to this process, with the columns a claim returns.

    `events` are (event id, device id, event type, stored body); of an id given twice, the
    first was stored.
    """
    by_id: dict[str, tuple[str, str, str, bytes]] = {}
    for event in events:
        by_id.setdefault(event[0], event)
    rows = []
    for delivery_id, connector_id, event_id in batch.taken:
        _, device_id, event_type, body = by_id[event_id]
        labels, device_type, product_number = batch.taken_devices[device_id]
        rows.append({
            "id": delivery_id, "project_id": project_id, "connector_id": connector_id,
            "attempts": 1, "expires_at": expires_at, "probing": False, "event_id": event_id,
            "event_type": event_type, "device_id": device_id, "body": body, "labels": labels,
            "device_type": device_type, "product_number": product_number, "stored_at": now,
        })  # fmt: skip
    return rows
