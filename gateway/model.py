"""The domain: a data connector, its statuses, the event and device types. No HTTP, no SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ACTIVE, USER_DISABLED, SYSTEM_DISABLED = "ACTIVE", "USER_DISABLED", "SYSTEM_DISABLED"
STATUSES: Final = (ACTIVE, USER_DISABLED, SYSTEM_DISABLED)

# A delivery in the log: still queued (PENDING, or RETRYING after a failed attempt), or finished.
PENDING, RETRYING, DELIVERED, DROPPED = "PENDING", "RETRYING", "DELIVERED", "DROPPED"
DELIVERY_STATUSES: Final = (PENDING, RETRYING, DELIVERED, DROPPED)
# Why a delivery left the queue unsent.
EXPIRED, CONNECTOR_DISABLED, CONNECTOR_DELETED, FILTER_CHANGED = (
    "EXPIRED", "CONNECTOR_DISABLED", "CONNECTOR_DELETED", "FILTER_CHANGED"
)
DROP_REASONS: Final = (EXPIRED, CONNECTOR_DISABLED, CONNECTOR_DELETED, FILTER_CHANGED)

EVENT_TYPES: Final = frozenset({
    "touch", "temperature", "objectPresent", "humidity", "objectPresentCount", "touchCount",
    "waterPresent", "networkStatus", "batteryStatus", "labelsChanged", "connectionStatus",
    "ethernetStatus", "cellularStatus", "co2", "pressure", "motion", "deskOccupancy",
    "contact", "probeWireStatus",
})  # fmt: skip

DEVICE_TYPES: Final = frozenset({
    "temperature", "proximity", "touch", "humidity", "proximityCounter", "touchCounter",
    "waterDetector", "co2", "motion", "deskOccupancy", "contact", "ccon",
})  # fmt: skip


@dataclass(frozen=True)
class Connector:
    project_id: str
    id: str
    display_name: str = ""
    status: str = ACTIVE
    events: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    url: str = ""
    signature_secret: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Connector:
        return cls(
            project_id=row["project_id"],
            id=row["id"],
            display_name=row["display_name"],
            status=row["status"],
            events=tuple(row["events"]),
            labels=tuple(row["labels"]),
            url=row["url"],
            signature_secret=row["signature_secret"],
            headers=row["headers"],
        )

    def __repr__(self) -> str:
        return f"Connector(project_id={self.project_id!r}, id={self.id!r}, status={self.status!r})"


@dataclass(frozen=True)
class EventToPush:
    """An event and its device, ready to be pushed: `body` is the serialised event object."""

    id: str
    event_type: str
    device_id: str
    device_type: str
    body: bytes
