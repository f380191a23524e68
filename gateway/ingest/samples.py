"""Sample events for `:test` pushes: one valid event of each type, as a device would send it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from gateway.ids import new_id
from gateway.ingest.eventdata import parse_publish
from gateway.ingest.publish import new_event
from gateway.model import EventToPush

# The fields a device would report; parse_publish fills in times, samples and defaults.
_DATA: dict[str, dict[str, Any]] = {
    "touch": {},
    "temperature": {"value": 21.5},
    "objectPresent": {"state": "PRESENT"},
    "humidity": {"temperature": 21.5, "relativeHumidity": 40.0},
    "objectPresentCount": {"total": 1},
    "touchCount": {"total": 1},
    "waterPresent": {"state": "NOT_PRESENT"},
    "networkStatus": {"signalStrength": 80, "rssi": -60},
    "batteryStatus": {"percentage": 90},
    "labelsChanged": {},
    "connectionStatus": {"connection": "ETHERNET"},
    "ethernetStatus": {"macAddress": "f0:b5:b7:00:0a:08", "ipAddress": "10.0.0.1"},
    "cellularStatus": {"signalStrength": 80},
    "co2": {"ppm": 400},
    "pressure": {"pascal": 101325.0},
    "motion": {"state": "NO_MOTION_DETECTED"},
    "deskOccupancy": {"state": "NOT_OCCUPIED"},
    "contact": {"state": "CLOSED"},
    "probeWireStatus": {"state": "TWO_WIRE"},
}

# The kind of device that sends each type (status events come from any sensor).
_DEVICE_TYPE = {
    "objectPresent": "proximity", "objectPresentCount": "proximityCounter",
    "touchCount": "touchCounter", "waterPresent": "waterDetector", "pressure": "co2",
    "connectionStatus": "ccon", "ethernetStatus": "ccon", "cellularStatus": "ccon",
    "networkStatus": "temperature", "batteryStatus": "temperature",
    "labelsChanged": "temperature", "probeWireStatus": "temperature",
}  # fmt: skip

SAMPLE_TYPES = frozenset(_DATA)


def sample_event(project_id: str, event_type: str, now: datetime) -> EventToPush:
    """A fresh event of `event_type` from a made-up device, with a new event id."""
    parsed_type, data = parse_publish({event_type: _DATA[event_type]}, now)
    event = new_event(new_id(), parsed_type, data, now, None)
    return EventToPush(
        id=event.id,
        event_type=event.event_type,
        device_id=event.device_id,
        device_type=_DEVICE_TYPE.get(event_type, event_type),
        body=orjson.dumps(event.to_json(project_id)),
    )
