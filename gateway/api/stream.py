"""DT's event stream: `GET /v2/projects/{p}/devices:stream`, one JSON object per line.

Each event published to the project from then on arrives as `{"result": {"event": {...}}}` (the
event object of a push), a `ping` event every `ping_interval` keeps the client's read timeout
from firing, and errors arrive in the stream's own format, `{"error": {"code": 404, ...}}`,
which is what DT's SDK reads. The caller's key and role are checked again at each ping, so a
stream ends (with a 401 or 404 line) within one ping interval of its key's deletion.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import aiohttp
import orjson
from aiohttp import web

from gateway.api import auth
from gateway.api.common import SERVICES, authorize, services
from gateway.api.devices import label_filter, list_param
from gateway.api.stream_hub import StreamFilter, StreamHub, Subscription
from gateway.errors import DATABASE_UNAVAILABLE, BadRequest, GatewayError
from gateway.ids import new_id
from gateway.ingest.eventdata import format_timestamp
from gateway.model import EVENT_TYPES

routes = web.RouteTableDef()
HUB = web.AppKey("stream_hub", StreamHub)
DEFAULT_PING_INTERVAL = 10.0
_INTERVAL = re.compile(r"^(\d{1,6}(?:\.\d{1,9})?)s$")
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}


async def streaming(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the hub's LISTEN connection and forwarder, after the pool exists."""
    svc = app[SERVICES]
    assert svc.settings.database_url is not None
    hub = StreamHub(svc.settings.database_url, svc.db, svc.settings.stream_buffer)
    app[HUB] = hub
    tasks = [
        asyncio.create_task(hub.listen(), name="stream_listener"),
        asyncio.create_task(hub.forward(), name="stream_forwarder"),
    ]
    try:
        yield
    finally:
        hub.close_all()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def end_streams(app: web.Application) -> None:
    """on_shutdown: open streams end first, so shutdown does not wait for them."""
    hub = app.get(HUB)
    if hub is not None:
        hub.close_all()


def _error_body(status: int, message: str) -> bytes:
    body = {"error": {
        "code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        "details": [],
    }}
    return orjson.dumps(body) + b"\n"


def error_line(status: int, message: str) -> web.Response:
    """A refused stream: one error line, with the error's status."""
    return web.Response(
        status=status, body=_error_body(status, message), content_type="application/json"
    )


def ping_interval(request: web.Request) -> float:
    text = request.query.get("ping_interval") or request.query.get("pingInterval")
    if text is None:
        return DEFAULT_PING_INTERVAL
    match = _INTERVAL.match(text)
    if match is None or not 0.1 <= float(match.group(1)) <= 3600:
        raise BadRequest("ping_interval must be a duration from 0.1s to 3600s, such as 10s")
    return float(match.group(1))


def stream_filter(request: web.Request) -> StreamFilter:
    event_types = frozenset(list_param(request, "event_types", "eventTypes"))
    unknown = sorted(event_types - EVENT_TYPES)
    if unknown:
        raise BadRequest(f"unknown event types: {', '.join(unknown)}")
    labels, keys = label_filter(request, bare_keys=True)
    return StreamFilter(
        device_ids=frozenset(list_param(request, "device_ids", "deviceIds")),
        device_types=frozenset(list_param(request, "device_types", "deviceTypes")),
        event_types=event_types,
        labels=labels,
        label_keys=frozenset(keys),
    )


def _ping(project_id: str, request: web.Request) -> bytes:
    event = {
        "eventId": new_id(), "targetName": f"projects/{project_id}", "eventType": "ping",
        "data": None, "timestamp": format_timestamp(services(request).now()),
    }
    return orjson.dumps({"result": {"event": event}}) + b"\n"


@routes.get("/v2/projects/{project}/devices:stream")
async def event_stream(request: web.Request) -> web.StreamResponse:
    try:
        _, project_id = await authorize(request, auth.USER)
        where = stream_filter(request)
        interval = ping_interval(request)
    except GatewayError as error:
        return error_line(error.status, error.message)
    except DATABASE_UNAVAILABLE:
        return error_line(503, "service unavailable, retry shortly")
    hub = request.app[HUB]
    # Subscribed before the client sees the answer: nothing published after that is missed.
    subscription = hub.subscribe(project_id, where, lambda: _cut(request))
    try:
        response = web.StreamResponse(headers={"Cache-Control": "no-store"})
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, aiohttp.ClientConnectionResetError):
            await _serve(request, response, subscription, project_id, interval)
            await response.write_eof()
        return response
    finally:
        hub.unsubscribe(subscription)


async def _serve(
    request: web.Request,
    response: web.StreamResponse,
    subscription: Subscription,
    project_id: str,
    interval: float,
) -> None:
    while True:
        lines = await subscription.take(interval)
        if lines is None:
            return
        if lines:
            await response.write(b"".join(lines))
            continue
        refused = await _refusal(request, project_id)
        if refused is not None:
            await response.write(_error_body(refused.status, refused.message))
            return
        await response.write(_ping(project_id, request))


async def _refusal(request: web.Request, project_id: str) -> GatewayError | None:
    """Checked at each ping: a stream ends when its key is deleted or its role taken away."""
    svc = services(request)
    try:
        principal = await auth.authenticate(
            svc.db, request.headers.get("Authorization"), svc.now()
        )
        await auth.admit_organization_admin(svc.db, principal, project_id)
        principal.require(project_id, auth.USER)
    except GatewayError as error:
        return error
    except DATABASE_UNAVAILABLE:
        return None  # keep streaming; the next ping checks again
    return None


def _cut(request: web.Request) -> None:
    """A reader too slow for its buffer: drop the connection, whatever is still unsent."""
    if request.transport is not None:
        request.transport.abort()
