"""Reading the delivery log's requests and writing its answers: filters, page tokens, replay and
redelivery bodies, deliveries and attempts as JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from gateway import latency
from gateway.api.common import (
    RESOURCE_ID,
    decode_page_token,
    encode_page_token,
    query_value,
)
from gateway.errors import BadRequest
from gateway.ingest.eventdata import InvalidEventData, format_timestamp, parse_timestamp
from gateway.ingest.publish import EVENT_ID
from gateway.model import DELIVERY_STATUSES, EVENT_TYPES
from gateway.store.deliveries import Attempt
from gateway.store.delivery_log import NO_CURSOR, LogQuery, Replay

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_EVENT_IDS = 1000
MAX_DEVICES = 1000
_REPLAY_FIELDS = frozenset({"startTime", "endTime", "eventTypes", "devices", "onlyUndelivered"})
_RESOURCE_ID = re.compile(RESOURCE_ID)


def _time(value: object, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise BadRequest(f"{name} must be an RFC 3339 timestamp string")
    try:
        return parse_timestamp(value)
    except InvalidEventData as error:
        raise BadRequest(f"{name}: {error}") from None


def _page_size(text: str | None) -> int:
    if text in (None, ""):
        return DEFAULT_PAGE_SIZE
    try:
        size = int(text)
    except ValueError:
        raise BadRequest("pageSize must be an integer") from None
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"pageSize must be from 0 to {MAX_PAGE_SIZE}")
    return size or DEFAULT_PAGE_SIZE


def _cursor(token: str | None) -> int:
    """The id a page starts below; only a token this API wrote is accepted."""
    if not token:
        return NO_CURSOR
    key = decode_page_token(token)
    if not key.isdigit() or len(key) > 19 or encode_page_token(key) != token:
        raise BadRequest("invalid pageToken")
    if not 0 < int(key) <= NO_CURSOR:
        raise BadRequest("invalid pageToken")
    return int(key)


def log_query(request: web.Request) -> LogQuery:
    """The filters of a list request; a bad value is a 400."""
    status = query_value(request, "status") or ""
    if status and status not in DELIVERY_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    event_id = query_value(request, "eventId", "event_id") or ""
    if event_id and not EVENT_ID.match(event_id):
        raise BadRequest("eventId must be 1 to 64 letters, digits, '-' or '_'")
    start_text = query_value(request, "startTime", "start_time")
    end_text = query_value(request, "endTime", "end_time")
    start = _time(start_text, "startTime") if start_text else None
    end = _time(end_text, "endTime") if end_text else None
    if start is not None and end is not None and start > end:
        raise BadRequest("startTime must not be after endTime")
    return LogQuery(
        status=status,
        event_id=event_id,
        start=start,
        end=end,
        before_id=_cursor(query_value(request, "pageToken", "page_token")),
        limit=_page_size(query_value(request, "pageSize", "page_size")),
    )


def next_page_token(rows: Sequence[asyncpg.Record], size: int) -> str:
    """Rows hold up to size + 1; the extra one only says that another page exists."""
    return encode_page_token(str(rows[size - 1]["id"])) if len(rows) > size else ""


def _strings(value: object, name: str, limit: int, pattern: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > limit:
        raise BadRequest(f"{name} must be a list of at most {limit} strings")
    for item in value:
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise BadRequest(f"{name} holds an invalid id: {str(item)[:80]!r}")
    return list(dict.fromkeys(value))


def replay_window(
    body: dict[str, Any],
    now: datetime,
    retention: float,
    log_retention: float,
    connector_events: Sequence[str],
) -> Replay:
    """A :replay body as a window of stored events; bad or out-of-range values are a 400."""
    unknown = sorted(set(body) - _REPLAY_FIELDS)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    start = _time(body.get("startTime"), "startTime")
    end = _time(body.get("endTime"), "endTime")
    if start >= end:
        raise BadRequest("startTime must be before endTime")
    only_undelivered = body.get("onlyUndelivered", False)
    if not isinstance(only_undelivered, bool):
        raise BadRequest("onlyUndelivered must be true or false")
    # Events are kept for the retention; what was delivered, for the shorter log retention.
    kept = log_retention if only_undelivered else retention
    earliest = now - timedelta(seconds=kept)
    if start < earliest:
        raise BadRequest(f"startTime must not be before {format_timestamp(earliest)}")
    types = body.get("eventTypes", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise BadRequest("eventTypes must be a list of event types")
    unknown_types = sorted(set(types) - EVENT_TYPES)
    if unknown_types:
        raise BadRequest(f"unknown event types: {', '.join(unknown_types)}")
    devices = _strings(body.get("devices", []), "devices", MAX_DEVICES, _RESOURCE_ID)
    return Replay(start, end, connector_events, types, devices, only_undelivered)


def event_ids(body: dict[str, Any]) -> list[str]:
    """The ids of a :redeliver body: 1 to 1,000 event ids, duplicates removed."""
    unknown = sorted(set(body) - {"eventIds"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    ids = _strings(body.get("eventIds"), "eventIds", MAX_EVENT_IDS, EVENT_ID)
    if not ids:
        raise BadRequest("eventIds must name at least one event")
    return ids


def _error_text(error_class: str, message: str) -> str:
    return f"{error_class}: {message}" if error_class and message else error_class or message


def attempt_json(attempt: Mapping[str, Any]) -> dict[str, Any]:
    """One attempt: statusCode 0 when no HTTP answer came, and then an error says why."""
    return {
        "time": format_timestamp(attempt["time"]),
        "statusCode": attempt["status_code"] or 0,
        "error": _error_text(attempt["error_class"], attempt["message"]),
        "latency": latency.duration_text(attempt["latency"]),
        "response": attempt["response"],
    }


def test_result_json(attempt: Attempt) -> dict[str, Any]:
    """What the receiver said to a :test push."""
    return {
        "statusCode": attempt.status or 0,
        "latency": latency.duration_text(attempt.latency),
        "error": _error_text(attempt.error or "", attempt.message or ""),
        "response": attempt.response_excerpt or "",
    }


def delivery_json(
    project_id: str, connector_id: str, row: asyncpg.Record, attempts: Sequence[asyncpg.Record]
) -> dict[str, Any]:
    """One delivery of the log, with its attempts oldest first."""
    next_attempt = row["next_attempt_at"]
    return {
        "name": f"projects/{project_id}/dataconnectors/{connector_id}/deliveries/{row['id']}",
        "eventId": row["event_id"],
        "eventType": row["event_type"],
        "device": row["device_id"],
        "status": row["status"],
        "dropReason": row["drop_reason"],
        "test": row["test"],
        "createTime": format_timestamp(row["created_at"]),
        "nextAttemptTime": format_timestamp(next_attempt) if next_attempt else "",
        "attempts": [attempt_json(dict(attempt)) for attempt in attempts],
    }
