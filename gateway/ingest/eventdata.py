"""Validation of emulator ``:publish`` bodies: ``{"<eventType>": {...data...}}``.

Each event type is a table of field specs (gateway/ingest/checks.py); one generic object check
walks it. Every bad input raises :class:`InvalidEventData` with a sentence naming the offending
field, and nothing else escapes. Missing optional fields are filled the way DT's emulator fills
them, so the resulting ``data`` always has every field the DT SDK's parsers read.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Final

from gateway.ingest.checks import (
    INT32,
    INT32_MAX,
    Default,
    Field,
    InvalidEventData,
    boolean,
    code,
    enum,
    format_timestamp,
    integer,
    list_of,
    number,
    object_of,
    parse_timestamp,
    shown,
    text,
    text_map,
    timestamp,
)

__all__ = ["InvalidEventData", "format_timestamp", "parse_publish", "parse_timestamp"]


# --- per-type tables -----------------------------------------------------------------------


def _const(value: object) -> Default:
    return lambda _filled: value


def _empty_list(_filled: Mapping[str, Any]) -> list[Any]:
    return []


def _empty_map(_filled: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _one_sample(*keys: str) -> Default:
    """The emulator reports the published value as the heartbeat's only sample."""

    def default(filled: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{**{key: filled[key] for key in keys}, "sampleTime": filled["updateTime"]}]

    return default


_PERCENT = integer(0, 100)
_COUNT = integer(0, INT32_MAX)
# The publish time, for an absent updateTime: set by parse_publish around each validation, so
# the validators are built once rather than per event.
_PUBLISHED_AT: ContextVar[str] = ContextVar("published_at")
_UPDATE_TIME = Field(timestamp, default=lambda _filled: _PUBLISHED_AT.get())


def _state(*allowed: str) -> dict[str, Field]:
    return {"state": Field(enum(*allowed)), "updateTime": _UPDATE_TIME}


_PRESENCE = _state("PRESENT", "NOT_PRESENT")
_ERRORS = Field(
    list_of(object_of({"code": Field(code), "message": Field(text)})), default=_empty_list
)
_TEMPERATURE_SAMPLE = {"value": Field(number()), "sampleTime": Field(timestamp)}
_HUMIDITY_SAMPLE = {
    "temperature": Field(number()),
    "relativeHumidity": Field(number(0, 100)),
    "sampleTime": Field(timestamp),
}
_CLOUD_CONNECTOR = {
    "id": Field(text),
    "signalStrength": Field(_PERCENT, default=_const(0)),
    "rssi": Field(INT32, default=_const(0)),
}

_WIRE_STATES = (
    "INVALID_WIRE_CONFIGURATION", "INVALID_COEFFICIENT_CONFIGURATION",
    "TWO_WIRE", "THREE_WIRE", "FOUR_WIRE",
)  # fmt: skip

_FIELDS: Final[Mapping[str, Mapping[str, Field]]] = {
    "touch": {"updateTime": _UPDATE_TIME},
    "temperature": {
        "value": Field(number()),
        "updateTime": _UPDATE_TIME,
        "samples": Field(list_of(object_of(_TEMPERATURE_SAMPLE)), default=_one_sample("value")),
        "isBackfilled": Field(boolean, default=_const(False)),
    },
    "objectPresent": _PRESENCE,
    "humidity": {
        "temperature": Field(number()),
        "relativeHumidity": Field(number(0, 100)),
        "updateTime": _UPDATE_TIME,
        "samples": Field(
            list_of(object_of(_HUMIDITY_SAMPLE)),
            default=_one_sample("temperature", "relativeHumidity"),
        ),
        "isBackfilled": Field(boolean, default=_const(False)),
    },
    "objectPresentCount": {"total": Field(_COUNT), "updateTime": _UPDATE_TIME},
    "touchCount": {"total": Field(_COUNT), "updateTime": _UPDATE_TIME},
    "waterPresent": _PRESENCE,
    "networkStatus": {
        "signalStrength": Field(_PERCENT, default=_const(0)),
        "rssi": Field(INT32, default=_const(0)),
        "updateTime": _UPDATE_TIME,
        "cloudConnectors": Field(list_of(object_of(_CLOUD_CONNECTOR)), default=_empty_list),
        "transmissionMode": Field(
            enum("LOW_POWER_STANDARD_MODE", "HIGH_POWER_BOOST_MODE"),
            default=_const("LOW_POWER_STANDARD_MODE"),
        ),
    },
    "batteryStatus": {"percentage": Field(_PERCENT), "updateTime": _UPDATE_TIME},
    "labelsChanged": {
        "added": Field(text_map, default=_empty_map),
        "modified": Field(text_map, default=_empty_map),
        "removed": Field(list_of(text), default=_empty_list),
    },
    "connectionStatus": {
        "connection": Field(enum("SDS", "ETHERNET", "CELLULAR", "OFFLINE")),
        # The SDK documents SDS as the one network a sensor reports when online.
        "available": Field(list_of(enum("ETHERNET", "CELLULAR", "SDS")), default=_empty_list),
        "updateTime": _UPDATE_TIME,
    },
    "ethernetStatus": {
        "macAddress": Field(text),
        "ipAddress": Field(text),
        "errors": _ERRORS,
        "updateTime": _UPDATE_TIME,
    },
    "cellularStatus": {
        "signalStrength": Field(_PERCENT),
        "errors": _ERRORS,
        "updateTime": _UPDATE_TIME,
    },
    "co2": {"ppm": Field(_COUNT), "updateTime": _UPDATE_TIME},
    "pressure": {"pascal": Field(number()), "updateTime": _UPDATE_TIME},
    "motion": _state("MOTION_DETECTED", "NO_MOTION_DETECTED"),
    "deskOccupancy": {
        "state": Field(enum("OCCUPIED", "NOT_OCCUPIED")),
        "remarks": Field(list_of(text), default=_empty_list),
        "updateTime": _UPDATE_TIME,
    },
    "contact": _state("OPEN", "CLOSED"),
    "probeWireStatus": _state(*_WIRE_STATES),
}

_UNKEYED: Final = frozenset({"labelsChanged"})


_CHECKS: Final = {event_type: object_of(fields) for event_type, fields in _FIELDS.items()}


def parse_publish(body: object, now: datetime, where: str = "") -> tuple[str, dict[str, Any]]:
    """Validate a publish body and return ``(event_type, data)`` for the event's ``data``.

    `where` (e.g. ``events[3].data``) prefixes the message of the error, for batches.

    ``data`` is ``{"<eventType>": {...}}``, except for ``labelsChanged`` whose data is the bare
    ``{"added", "modified", "removed"}`` object. Absent optional fields get the emulator's
    defaults (``updateTime`` from `now`); timestamps are normalised by :func:`format_timestamp`.
    """
    try:
        return _parse_publish(body, now)
    except InvalidEventData as error:
        if not where:
            raise
        raise InvalidEventData(f"{where}: {error.message}") from None


def _parse_publish(body: object, now: datetime) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise InvalidEventData("the body must be a JSON object")
    if len(body) != 1:
        raise InvalidEventData("the body must have exactly one key, the event type")
    ((event_type, payload),) = body.items()
    if not isinstance(event_type, str) or event_type not in _FIELDS:
        named = repr(shown(event_type) if isinstance(event_type, str) else event_type)
        raise InvalidEventData(f"unknown event type {named}")
    published_at = _PUBLISHED_AT.set(format_timestamp(now))
    try:
        data: dict[str, Any] = _CHECKS[event_type](payload, event_type)
    finally:
        _PUBLISHED_AT.reset(published_at)
    return event_type, data if event_type in _UNKEYED else {event_type: data}
