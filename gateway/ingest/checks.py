"""The checks event data is built from: timestamps, scalars, lists, maps and objects.

Each check takes a value and the path naming it, returns the value normalised, and raises
:class:`InvalidEventData` with a sentence naming the path; nothing else escapes. The per-type
tables in gateway/ingest/eventdata.py are made of these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

from gateway.errors import BadRequest

MAX_TEXT_LENGTH: Final = 1024
MAX_ITEMS: Final = 256
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
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


def shown(name: str) -> str:
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
        raise InvalidEventData(f"{shown(str(text))!r} is not an RFC 3339 timestamp")
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
        raise InvalidEventData(f"{shown(text)!r} is not a valid RFC 3339 timestamp") from None


def _is_canonical(text: str) -> bool:
    """Written as `format_timestamp` writes (UTC, microseconds, ``Z``): kept as it is, read in
    C, without the regular expression and the round trip through a datetime."""
    if len(text) != 27 or text[10] != "T" or text[19] != "." or text[26] != "Z":
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def timestamp(value: object, path: str) -> str:
    if isinstance(value, str) and _is_canonical(value):
        return value
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidEventData(f"{path} must be an RFC 3339 timestamp string")
    try:
        return format_timestamp(parse_timestamp(value))
    except InvalidEventData:
        raise InvalidEventData(
            f"{path} must be an RFC 3339 timestamp with an offset, e.g. 2022-02-10T12:42:13Z"
        ) from None


# --- scalar checks -------------------------------------------------------------------------


def number(low: float = -math.inf, high: float = math.inf) -> Check:
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


def integer(low: int = INT32_MIN, high: int = INT32_MAX) -> Check:
    def check(value: object, path: str) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEventData(f"{path} must be an integer")
        if not low <= value <= high:
            raise InvalidEventData(f"{path} must be an integer between {low} and {high}")
        return value

    return check


def text(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidEventData(f"{path} must be a string")
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidEventData(f"{path} must be at most {MAX_TEXT_LENGTH} characters long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEventData(f"{path} must be valid Unicode text") from None
    return value


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidEventData(f"{path} must be true or false")
    return value


def enum(*allowed: str) -> Check:
    def check(value: object, path: str) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise InvalidEventData(f"{path} must be one of {', '.join(allowed)}")
        return value

    return check


INT32 = integer()


def code(value: object, path: str) -> int | str:
    """Error codes arrive as integers (DT's fixtures) or strings (DT's Swift client)."""
    if isinstance(value, str):
        return text(value, path)
    try:
        code: int = INT32(value, path)
    except InvalidEventData:
        raise InvalidEventData(f"{path} must be an integer or a string") from None
    return code


# --- containers ----------------------------------------------------------------------------


def list_of(item: Check) -> Check:
    def check(value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidEventData(f"{path} must be a list")
        if len(value) > MAX_ITEMS:
            raise InvalidEventData(f"{path} must have at most {MAX_ITEMS} items")
        return [item(element, f"{path}[{index}]") for index, element in enumerate(value)]

    return check


def text_map(value: object, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidEventData(f"{path} must be an object of strings")
    if len(value) > MAX_ITEMS:
        raise InvalidEventData(f"{path} must have at most {MAX_ITEMS} entries")
    result: dict[str, str] = {}
    for key, entry in value.items():
        if not isinstance(key, str):
            raise InvalidEventData(f"{path} must be an object of strings")
        name = text(key, f"{path} key {shown(key)!r}")
        result[name] = text(entry, f"{path}.{shown(name)}")
    return result


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def object_of(fields: Mapping[str, Field]) -> Check:
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
                name_shown = shown(key) if isinstance(key, str) else repr(key)
                known = ", ".join(fields)
                raise InvalidEventData(
                    f"{path}.{name_shown} is not a known field (known: {known})"
                )
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
