"""Validation of emulator ``:publish`` bodies: ``{"<eventType>": {...data...}}``.

Each event type is a table of field specs; one generic object check walks it. Every bad input
raises :class:`InvalidEventData` with a sentence naming the offending field, and nothing else
escapes. Missing optional fields are filled the way DT's emulator fills them, so the resulting
``data`` always has every field the DT SDK's parsers read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

from gateway.errors import BadRequest

MAX_TEXT_LENGTH: Final = 1024
MAX_ITEMS: Final = 256
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_NAME_SHOWN: Final = 64


class InvalidEventData(BadRequest, ValueError):
    """A publish body that DT's emulator would refuse: a 400 whose message is safe to show."""


# (value, path) -> normalised value; raises InvalidEventData naming `path`.
Check = Callable[[object, str], Any]
# (fields filled so far, in table order) -> value for an absent optional field.
Default = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Field:
    check: Check
    default: Default | None = None  # None: the field is required


def _show(name: str) -> str:
    return name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "..."


# --- timestamps ----------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)


@lru_cache(maxsize=256)  # a batch's events share their publish time
def format_timestamp(moment: datetime) -> str:
    """Format as RFC 3339 in UTC with microseconds and ``Z``; a naive moment is taken as UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str, name: str = "") -> datetime:
    """Parse an RFC 3339 timestamp with ``Z`` or a numeric offset into an aware UTC datetime.

    `name` (a query parameter's, say) prefixes the message of the error.
    """
    try:
        return _parse_timestamp(text)
    except InvalidEventData as error:
        if not name:
            raise
        raise InvalidEventData(f"{name}: {error.message}") from None


def _parse_timestamp(text: str) -> datetime:
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidEventData(f"{_show(str(text))!r} is not an RFC 3339 timestamp")
    *parts, fraction, sign, offset_hours, offset_minutes = match.groups()
    year, month, day, hour, minute, second = map(int, parts)
    micro = int((fraction or "").ljust(6, "0")[:6])
    offset = timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
    try:
        if offset >= timedelta(days=1) or int(offset_minutes or 0) > 59:
            raise ValueError("offset out of range")
        local = datetime(year, month, day, hour, minute, second, micro, UTC)
        return local - offset if sign == "+" else local + offset
    except (ValueError, OverflowError):
        raise InvalidEventData(f"{_show(text)!r} is not a valid RFC 3339 timestamp") from None


def _timestamp(value: object, path: str) -> str:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidEventData(f"{path} must be an RFC 3339 timestamp string")
    try:
        return format_timestamp(parse_timestamp(value))
    except InvalidEventData:
        raise InvalidEventData(
            f"{path} must be an RFC 3339 timestamp with an offset, e.g. 2022-02-10T12:42:13Z"
        ) from None


# --- scalar checks -------------------------------------------------------------------------


def _number(low: float = -math.inf, high: float = math.inf) -> Check:
    def check(value: object, path: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidEventData(f"{path} must be a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise InvalidEventData(f"{path} must be a finite number")
        if not low <= number <= high:
            raise InvalidEventData(f"{path} must be a number between {low:g} and {high:g}")
        # Whole numbers stay as sent: 27, not 27.0, as DT's own pushes write them.
        return value if isinstance(value, int) else number

    return check


def _integer(low: int = _INT32_MIN, high: int = _INT32_MAX) -> Check:
    def check(value: object, path: str) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEventData(f"{path} must be an integer")
        if not low <= value <= high:
            raise InvalidEventData(f"{path} must be an integer between {low} and {high}")
        return value

    return check


def _text(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidEventData(f"{path} must be a string")
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidEventData(f"{path} must be at most {MAX_TEXT_LENGTH} characters long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEventData(f"{path} must be valid Unicode text") from None
    return value


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidEventData(f"{path} must be true or false")
    return value


def _enum(*allowed: str) -> Check:
    def check(value: object, path: str) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise InvalidEventData(f"{path} must be one of {', '.join(allowed)}")
        return value

    return check


_INT32 = _integer()


def _code(value: object, path: str) -> int | str:
    """Error codes arrive as integers (DT's fixtures) or strings (DT's Swift client)."""
    if isinstance(value, str):
        return _text(value, path)
    try:
        code: int = _INT32(value, path)
    except InvalidEventData:
        raise InvalidEventData(f"{path} must be an integer or a string") from None
    return code


# --- containers ----------------------------------------------------------------------------


def _list_of(item: Check) -> Check:
    def check(value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidEventData(f"{path} must be a list")
        if len(value) > MAX_ITEMS:
            raise InvalidEventData(f"{path} must have at most {MAX_ITEMS} items")
        return [item(element, f"{path}[{index}]") for index, element in enumerate(value)]

    return check


def _text_map(value: object, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidEventData(f"{path} must be an object of strings")
    if len(value) > MAX_ITEMS:
        raise InvalidEventData(f"{path} must have at most {MAX_ITEMS} entries")
    result: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(key, str):
            raise InvalidEventData(f"{path} must be an object of strings")
        name = _text(key, f"{path} key {_show(key)!r}")
        result[name] = _text(text, f"{path}.{_show(name)}")
    return result


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def _object(fields: Mapping[str, Field]) -> Check:
    """An object of exactly `fields`, each also accepted under its snake_case name.

    Protobuf JSON parsers accept the original field names too, and the SDK relies on it: it
    publishes ``networkStatus.cloud_connectors``.
    """
    aliases = {_snake(name): name for name in fields} | {name: name for name in fields}

    def check(value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidEventData(f"{path} must be an object")
        given: dict[str, object] = {}
        for key, element in value.items():
            name = aliases.get(key) if isinstance(key, str) else None
            if name is None:
                shown = _show(key) if isinstance(key, str) else repr(key)
                known = ", ".join(fields)
                raise InvalidEventData(f"{path}.{shown} is not a known field (known: {known})")
            if name in given:
                raise InvalidEventData(f"{path}.{name} is given twice")
            given[name] = element
        return _fill(fields, given, path)

    return check


def _fill(fields: Mapping[str, Field], given: Mapping[str, object], path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in given:
            result[name] = spec.check(given[name], f"{path}.{name}")
        elif spec.default is None:
            raise InvalidEventData(f"{path}.{name} is required")
        else:
            result[name] = spec.default(result)
    return result


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


_PERCENT = _integer(0, 100)
_COUNT = _integer(0, _INT32_MAX)
# The publish time, for an absent updateTime: set by parse_publish around each validation, so
# the validators are built once rather than per event.
_PUBLISHED_AT: ContextVar[str] = ContextVar("published_at")
_UPDATE_TIME = Field(_timestamp, default=lambda _filled: _PUBLISHED_AT.get())


def _state(*allowed: str) -> dict[str, Field]:
    return {"state": Field(_enum(*allowed)), "updateTime": _UPDATE_TIME}


_PRESENCE = _state("PRESENT", "NOT_PRESENT")
_ERRORS = Field(
    _list_of(_object({"code": Field(_code), "message": Field(_text)})), default=_empty_list
)
_TEMPERATURE_SAMPLE = {"value": Field(_number()), "sampleTime": Field(_timestamp)}
_HUMIDITY_SAMPLE = {
    "temperature": Field(_number()),
    "relativeHumidity": Field(_number(0, 100)),
    "sampleTime": Field(_timestamp),
}
_CLOUD_CONNECTOR = {
    "id": Field(_text),
    "signalStrength": Field(_PERCENT, default=_const(0)),
    "rssi": Field(_INT32, default=_const(0)),
}

_WIRE_STATES = (
    "INVALID_WIRE_CONFIGURATION", "INVALID_COEFFICIENT_CONFIGURATION",
    "TWO_WIRE", "THREE_WIRE", "FOUR_WIRE",
)  # fmt: skip

_FIELDS: Final[Mapping[str, Mapping[str, Field]]] = {
    "touch": {"updateTime": _UPDATE_TIME},
    "temperature": {
        "value": Field(_number()),
        "updateTime": _UPDATE_TIME,
        "samples": Field(_list_of(_object(_TEMPERATURE_SAMPLE)), default=_one_sample("value")),
        "isBackfilled": Field(_boolean, default=_const(False)),
    },
    "objectPresent": _PRESENCE,
    "humidity": {
        "temperature": Field(_number()),
        "relativeHumidity": Field(_number(0, 100)),
        "updateTime": _UPDATE_TIME,
        "samples": Field(
            _list_of(_object(_HUMIDITY_SAMPLE)),
            default=_one_sample("temperature", "relativeHumidity"),
        ),
        "isBackfilled": Field(_boolean, default=_const(False)),
    },
    "objectPresentCount": {"total": Field(_COUNT), "updateTime": _UPDATE_TIME},
    "touchCount": {"total": Field(_COUNT), "updateTime": _UPDATE_TIME},
    "waterPresent": _PRESENCE,
    "networkStatus": {
        "signalStrength": Field(_PERCENT, default=_const(0)),
        "rssi": Field(_INT32, default=_const(0)),
        "updateTime": _UPDATE_TIME,
        "cloudConnectors": Field(_list_of(_object(_CLOUD_CONNECTOR)), default=_empty_list),
        "transmissionMode": Field(
            _enum("LOW_POWER_STANDARD_MODE", "HIGH_POWER_BOOST_MODE"),
            default=_const("LOW_POWER_STANDARD_MODE"),
        ),
    },
    "batteryStatus": {"percentage": Field(_PERCENT), "updateTime": _UPDATE_TIME},
    "labelsChanged": {
        "added": Field(_text_map, default=_empty_map),
        "modified": Field(_text_map, default=_empty_map),
        "removed": Field(_list_of(_text), default=_empty_list),
    },
    "connectionStatus": {
        "connection": Field(_enum("SDS", "ETHERNET", "CELLULAR", "OFFLINE")),
        # The SDK documents SDS as the one network a sensor reports when online.
        "available": Field(_list_of(_enum("ETHERNET", "CELLULAR", "SDS")), default=_empty_list),
        "updateTime": _UPDATE_TIME,
    },
    "ethernetStatus": {
        "macAddress": Field(_text),
        "ipAddress": Field(_text),
        "errors": _ERRORS,
        "updateTime": _UPDATE_TIME,
    },
    "cellularStatus": {
        "signalStrength": Field(_PERCENT),
        "errors": _ERRORS,
        "updateTime": _UPDATE_TIME,
    },
    "co2": {"ppm": Field(_COUNT), "updateTime": _UPDATE_TIME},
    "pressure": {"pascal": Field(_number()), "updateTime": _UPDATE_TIME},
    "motion": _state("MOTION_DETECTED", "NO_MOTION_DETECTED"),
    "deskOccupancy": {
        "state": Field(_enum("OCCUPIED", "NOT_OCCUPIED")),
        "remarks": Field(_list_of(_text), default=_empty_list),
        "updateTime": _UPDATE_TIME,
    },
    "contact": _state("OPEN", "CLOSED"),
    "probeWireStatus": _state(*_WIRE_STATES),
}

_UNKEYED: Final = frozenset({"labelsChanged"})


_CHECKS: Final = {event_type: _object(fields) for event_type, fields in _FIELDS.items()}


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
        shown = repr(_show(event_type) if isinstance(event_type, str) else event_type)
        raise InvalidEventData(f"unknown event type {shown}")
    published_at = _PUBLISHED_AT.set(format_timestamp(now))
    try:
        data: dict[str, Any] = _CHECKS[event_type](payload, event_type)
    finally:
        _PUBLISHED_AT.reset(published_at)
    return event_type, data if event_type in _UNKEYED else {event_type: data}
