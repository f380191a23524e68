"""Publishing events (the emulator's call and a batch call of ours) and a device's history.

The answer to a publish is sent only once the events, the devices' latest events and one
delivery per matching connector are committed.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from gateway.api import auth
from gateway.api.admission import admitted
from gateway.api.common import (
    DISPATCH,
    RESOURCE_ID,
    authorize,
    decode_page_token,
    encode_page_token,
    json_object,
    json_response,
    query_value,
    read_json,
    services,
)
from gateway.errors import BadRequest, NotFound
from gateway.ingest import publish as ingest
from gateway.ingest.eventdata import InvalidEventData, parse_publish, parse_timestamp
from gateway.model import EVENT_TYPES
from gateway.store import devices

routes = web.RouteTableDef()
MAX_BATCH = 1000
_SLICE = 10  # events validated between two turns of the event loop (about 1 ms of work)
HISTORY_PAGE = 1000
HISTORY_DEFAULT_SPAN = timedelta(hours=24)
_DEVICE_ID = re.compile(RESOURCE_ID)


async def _store(
    request: web.Request, project_id: str, events: list[ingest.NewEvent]
) -> list[Any]:
    svc = services(request)
    max_age = timedelta(seconds=svc.settings.delivery_max_age)
    bodies = ingest.bodies(project_id, events)
    now = svc.now()
    batch = await ingest.store(
        svc.db, project_id, events, bodies, now, max_age, svc.metrics, request.app.get(DISPATCH)
    )
    return ingest.answers(events, bodies, batch)


@routes.post("/v2/projects/{project}/devices/{device:" + RESOURCE_ID + "}:publish")
@admitted
async def publish(request: web.Request) -> web.Response:
    """DT emulator's call: body {"<eventType>": {...}}; `?eventId=` makes it idempotent."""
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = await read_json(request)
    now = services(request).now()
    event_type, data = parse_publish(body, now)
    event = ingest.new_event(
        request.match_info["device"], event_type, data, now, query_value(request, "eventId")
    )
    [stored] = await _store(request, project_id, [event])
    return json_response(stored)


@routes.post("/v2/projects/{project}/devices:publishBatch")
@admitted
async def publish_batch(request: web.Request) -> web.Response:
    """Body {"events": [{"device": "<id>", "eventId"?: "...", "data": {"<type>": {...}}}]}."""
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request))
    items = body.get("events")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise BadRequest(f"events must be a list of 1 to {MAX_BATCH} events")
    events = await _parse_batch(items, services(request).now())
    return json_response({"events": await _store(request, project_id, events)})


async def _parse_batch(items: list[Any], now: datetime) -> list[ingest.NewEvent]:
    """The batch's events, validated in slices: between two slices the event loop answers other
    requests (health checks above all), which one large batch would otherwise hold up."""
    events: list[ingest.NewEvent] = []
    for start in range(0, len(items), _SLICE):
        if start:
            await asyncio.sleep(0)
        chunk = items[start : start + _SLICE]
        events += [_batch_event(item, index, now) for index, item in enumerate(chunk, start)]
    return events


def _batch_event(item: Any, index: int, now: datetime) -> ingest.NewEvent:
    if not isinstance(item, dict) or set(item) - {"device", "eventId", "data"}:
        raise BadRequest(f"events[{index}] must be an object with device, data and eventId")
    device = item.get("device")
    if not isinstance(device, str) or not _DEVICE_ID.fullmatch(device):
        raise BadRequest(f"events[{index}].device must be a device id")
    event_type, data = parse_publish(item.get("data"), now, f"events[{index}].data")
    return ingest.new_event(device, event_type, data, now, item.get("eventId"))


def _time_range(request: web.Request, now: datetime) -> tuple[datetime, datetime]:
    try:
        end_text = query_value(request, "endTime", "end_time")
        start_text = query_value(request, "startTime", "start_time")
        end = parse_timestamp(end_text, "endTime") if end_text else now
        start = (
            parse_timestamp(start_text, "startTime")
            if start_text
            else end - HISTORY_DEFAULT_SPAN
        )
    except OverflowError:
        raise BadRequest("endTime is too early") from None
    if start > end:
        raise BadRequest("startTime must not be after endTime")
    return start, end


def _event_types(request: web.Request) -> list[str]:
    types = request.query.getall("eventTypes", []) + request.query.getall("event_types", [])
    types = [t for text in types for t in text.split(",") if t]
    unknown = sorted(set(types) - EVENT_TYPES)
    if unknown:
        raise BadRequest(f"unknown event types: {', '.join(unknown)}")
    return types


def _history_cursor(request: web.Request, start: datetime) -> tuple[datetime, str]:
    token = decode_page_token(query_value(request, "pageToken", "page_token") or "")
    if not token:
        return start, ""
    moment, _, event_id = token.partition("|")
    try:
        # In UTC, so a time the database cannot hold is refused here, not by the driver.
        return parse_timestamp(moment), event_id
    except InvalidEventData:
        raise BadRequest("invalid pageToken") from None


@routes.get("/v2/projects/{project}/devices/{device:" + RESOURCE_ID + "}/events")
async def event_history(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    device_id = request.match_info["device"]
    svc = services(request)
    start, end = _time_range(request, svc.now())
    types = _event_types(request)
    if await devices.get(svc.db, project_id, device_id) is None:
        raise NotFound(f"device {device_id} not found")
    after = _history_cursor(request, start)
    rows = await devices.history(
        svc.db, project_id, device_id, start, end, types, after, HISTORY_PAGE + 1
    )
    token = ""
    if len(rows) > HISTORY_PAGE:
        rows = rows[:HISTORY_PAGE]
        last = rows[-1]
        token = encode_page_token(f"{last['timestamp'].isoformat()}|{last['id']}")
    events = [orjson.Fragment(row["body"]) for row in rows]
    return json_response({"events": events, "nextPageToken": token})
