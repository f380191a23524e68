"""Typed, read-only views of a push body: the event, the device's labels and its metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from receivers.errors import Reason, VerificationError

UNKEYED_EVENT_TYPES = frozenset({"labelsChanged"})


@dataclass(frozen=True, slots=True)
class Metadata:
    """What DT knows about the device that produced the event."""

    device_id: str
    project_id: str
    device_type: str
    product_number: str


@dataclass(frozen=True, slots=True)
class Event:
    """One event as DT stores it; `data` is the JSON object exactly as sent."""

    event_id: str
    target_name: str
    event_type: str
    data: dict[str, Any]
    timestamp: datetime

    @property
    def payload(self) -> dict[str, Any]:
        """The type-specific object: `data[event_type]`, or `data` itself for `labelsChanged`."""
        inner = self.data.get(self.event_type)
        if self.event_type in UNKEYED_EVENT_TYPES or not isinstance(inner, dict):
            return self.data
        return inner

    @property
    def project_id(self) -> str | None:
        """The project in `projects/<p>/devices/<d>`, or None for other targets."""
        parts = self.target_name.split("/")
        return parts[1] if _is_device_target(parts) else None

    @property
    def device_id(self) -> str | None:
        """The device in `projects/<p>/devices/<d>`, or None for other targets."""
        parts = self.target_name.split("/")
        return parts[3] if _is_device_target(parts) else None


@dataclass(frozen=True, slots=True)
class Push:
    """A verified push. `metadata` is None for pushes from before DT added it."""

    event: Event
    labels: dict[str, str]
    metadata: Metadata | None


def parse_push(body: bytes) -> Push:
    """Parse a push body; anything that is not a push raises `VerificationError`."""
    document = _load_json(body)
    if not isinstance(document, dict):
        _invalid("the body is not a JSON object")
    return Push(
        event=_event(document.get("event")),
        labels=_labels(document.get("labels", {})),
        metadata=_metadata(document.get("metadata")),
    )


def _is_device_target(parts: list[str]) -> bool:
    return len(parts) == 4 and parts[0] == "projects" and parts[2] == "devices"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise VerificationError(Reason.MALFORMED_BODY, "the body is not JSON") from None


def _invalid(detail: str) -> NoReturn:
    raise VerificationError(Reason.INVALID_PUSH, detail)


def _string(document: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = document.get(key, default)
    if not isinstance(value, str):
        _invalid(f"{where}.{key} is not a string")
    return value


def _event(document: object) -> Event:
    if not isinstance(document, dict):
        _invalid("event is not an object")
    data = document.get("data")
    if not isinstance(data, dict):
        _invalid("event.data is not an object")
    return Event(
        event_id=_string(document, "eventId", "event"),
        target_name=_string(document, "targetName", "event"),
        event_type=_string(document, "eventType", "event"),
        data=data,
        timestamp=_timestamp(_string(document, "timestamp", "event")),
    )


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            _invalid("event.timestamp has no time zone")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        _invalid("event.timestamp is not an RFC 3339 time")


def _labels(document: object) -> dict[str, str]:
    if not isinstance(document, dict):
        _invalid("labels is not an object")
    if not all(isinstance(value, str) for value in document.values()):
        _invalid("labels has a value that is not a string")
    return document


def _metadata(document: object) -> Metadata | None:
    if document is None:
        return None
    if not isinstance(document, dict):
        _invalid("metadata is not an object")
    return Metadata(
        device_id=_string(document, "deviceId", "metadata"),
        project_id=_string(document, "projectId", "metadata"),
        device_type=_string(document, "deviceType", "metadata"),
        product_number=_string(document, "productNumber", "metadata", default=""),
    )
