"""The delivery log and what acts on it (ours, beyond DT's API): a connector's deliveries with
their attempts, `:replay` of a window of stored events, `:redeliver` of named events, and `:test`,
one sample push now. Reading needs roles/project.user, acting roles/project.developer."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web

from gateway.api import auth
from gateway.api.common import (
    RESOURCE_ID,
    Services,
    authorize,
    json_object,
    json_response,
    read_json,
    services,
)
from gateway.api.delivery_form import (
    delivery_json,
    event_ids,
    log_query,
    next_page_token,
    replay_window,
    test_result_json,
)
from gateway.errors import BadRequest, NotFound, TooManyRequests
from gateway.ingest.samples import SAMPLE_TYPES, sample_event
from gateway.model import ACTIVE, Connector, EventToPush
from gateway.store import attempts, connectors, delivery_log
from gateway.store.deliveries import Attempt

routes = web.RouteTableDef()
ONE = "/v2/projects/{project}/dataconnectors/{connector:" + RESOURCE_ID + "}"
TEST_WINDOW = timedelta(minutes=1)


class SamplePusher(Protocol):
    """Pushes one event to a connector now and records the attempt (dispatch/ provides it)."""

    async def __call__(self, connector: Connector, event: EventToPush) -> Attempt: ...


SAMPLE_PUSHER = web.AppKey("sample_pusher", SamplePusher)


async def _connector(request: web.Request, project_id: str) -> Connector:
    connector_id = request.match_info["connector"]
    found = await connectors.get(services(request).db, project_id, connector_id)
    if found is None:
        raise NotFound(f"data connector {connector_id} not found")
    return found


async def _logged_connector(request: web.Request, project_id: str) -> str:
    """A connector of the project, or one deleted since whose deliveries are still logged."""
    connector_id = request.match_info["connector"]
    db = services(request).db
    exists = await connectors.get(db, project_id, connector_id) is not None
    if not exists and not await delivery_log.has_connector(db, project_id, connector_id):
        raise NotFound(f"data connector {connector_id} not found")
    return connector_id


def _active(connector: Connector, action: str) -> None:
    if connector.status != ACTIVE:
        raise BadRequest(f"only an ACTIVE data connector can be {action}")


def _expires_at(svc: Services, now: datetime) -> datetime:
    return now + timedelta(seconds=svc.settings.delivery_max_age)


@routes.get(ONE + "/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """A connector's deliveries, newest first, each with its attempts."""
    _, project_id = await authorize(request, auth.USER)
    query = log_query(request)
    connector_id = await _logged_connector(request, project_id)
    db = services(request).db
    size = query.limit
    rows = await delivery_log.page(db, project_id, connector_id, query.with_limit(size + 1))
    shown = rows[:size]
    tried = await attempts.of_deliveries(db, project_id, [row["id"] for row in shown])
    return json_response({
        "deliveries": [
            delivery_json(project_id, connector_id, row, tried.get(row["id"], []))
            for row in shown
        ],
        "nextPageToken": next_page_token(rows, size),
    })


@routes.get(ONE + "/deliveries/{delivery:[0-9]{1,18}}")
async def get_delivery(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    connector_id = await _logged_connector(request, project_id)
    delivery_id = int(request.match_info["delivery"])
    db = services(request).db
    row = await delivery_log.one(db, project_id, connector_id, delivery_id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} not found")
    tried = await attempts.of_deliveries(db, project_id, [delivery_id])
    return json_response(delivery_json(project_id, connector_id, row, tried.get(delivery_id, [])))


@routes.post(ONE + ":replay")
async def replay(request: web.Request) -> web.Response:
    """Queue again, for this connector, the stored events of a window that its filter takes."""
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request))
    svc = services(request)
    now = svc.now()
    connector = await _connector(request, project_id)
    settings = svc.settings
    window = replay_window(
        body, now, settings.retention, settings.attempt_retention, connector.events
    )
    _active(connector, "replayed")
    matching, queued = await delivery_log.replay(
        svc.db, project_id, connector.id, window, now, _expires_at(svc, now),
        settings.replay_limit,
    )
    if matching > settings.replay_limit:
        raise BadRequest(
            f"this replay would queue {matching} deliveries, more than the limit of "
            f"{settings.replay_limit}: choose a shorter window or fewer types or devices"
        )
    svc.metrics.deliveries_enqueued.labels("replay").inc(queued)
    return json_response({"queued": queued})


@routes.post(ONE + ":redeliver")
async def redeliver(request: web.Request) -> web.Response:
    """Queue the named events again for this connector; unknown ids are listed, not fatal."""
    _, project_id = await authorize(request, auth.DEVELOPER)
    wanted = event_ids(json_object(await read_json(request)))
    svc = services(request)
    connector = await _connector(request, project_id)
    _active(connector, "redelivered to")
    now = svc.now()
    known = await delivery_log.redeliver(
        svc.db, project_id, connector.id, wanted, now, _expires_at(svc, now)
    )
    svc.metrics.deliveries_enqueued.labels("redeliver").inc(len(known))
    unknown = [event_id for event_id in wanted if event_id not in known]
    return json_response({"queued": len(known), "unknownEventIds": unknown})


def _sample_type(body: dict[str, object], connector: Connector) -> str:
    """The requested type, else the first the connector takes (touch when it takes all)."""
    unknown = sorted(set(body) - {"eventType"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    requested = body.get("eventType")
    if requested is None:
        return connector.events[0] if connector.events else "touch"
    if not isinstance(requested, str) or requested not in SAMPLE_TYPES:
        raise BadRequest("eventType must be an event type")
    if connector.events and requested not in connector.events:
        raise BadRequest(f"the data connector does not take {requested} events")
    return requested


@routes.post(ONE + ":test")
async def test_push(request: web.Request) -> web.Response:
    """Push one sample event now, signed as usual, and answer with what the receiver said."""
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request, allow_empty=True))
    svc = services(request)
    connector = await _connector(request, project_id)
    event_type = _sample_type(body, connector)
    now = svc.now()
    limit = svc.settings.test_push_limit
    used_up = await delivery_log.take_test_push(svc.db, project_id, connector.id, now, limit)
    if used_up is not None:
        wait = max(1, math.ceil((used_up + TEST_WINDOW - now).total_seconds()))
        raise TooManyRequests(f"at most {limit} test pushes a minute per data connector", wait)
    event = sample_event(project_id, event_type, now)
    attempt = await request.app[SAMPLE_PUSHER](connector, event)
    return json_response(test_result_json(attempt))
