"""Data connector routes (SPEC §2): list, create, get, update, delete, :sync and :metrics."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from gateway import latency
from gateway.api import auth, standard_webhooks
from gateway.api.common import (
    RESOURCE_ID,
    authorize,
    json_object,
    json_response,
    page,
    page_request,
    query_value,
    read_json,
    services,
)
from gateway.api.connector_form import apply_changes, connector_json, new_connector, patch_paths
from gateway.errors import BadRequest, NotFound
from gateway.ids import new_id
from gateway.model import ACTIVE, Connector
from gateway.store import connectors, enqueue, stats

METRICS_WINDOW = timedelta(hours=3)

routes = web.RouteTableDef()
BASE = "/v2/projects/{project}/dataconnectors"
ONE = BASE + "/{connector:" + RESOURCE_ID + "}"


def _render(
    connector: Connector, principal: auth.Principal, *, reveal: bool = False
) -> dict[str, object]:
    return connector_json(
        connector,
        show_secret=principal.may_edit(connector.project_id),
        reveal_webhook_secret=reveal,
    )


async def _existing(request: web.Request, project_id: str) -> Connector:
    connector_id = request.match_info["connector"]
    svc = services(request)
    found = await connectors.get(svc.db, svc.box, project_id, connector_id)
    if found is None:
        raise NotFound(f"data connector {connector_id} not found")
    return found


@routes.get(BASE)
async def list_connectors(request: web.Request) -> web.Response:
    principal, project_id = await authorize(request, auth.USER)
    size, after = page_request(request)
    svc = services(request)
    found = await connectors.list_page(svc.db, svc.box, project_id, after, size + 1)
    shown, token = page(found, size, lambda connector: connector.id)
    return json_response({
        "dataConnectors": [_render(connector, principal) for connector in shown],
        "nextPageToken": token,
    })


@routes.post(BASE)
async def create_connector(request: web.Request) -> web.Response:
    principal, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request))
    svc = services(request)
    connector = new_connector(
        project_id, new_id(), body, allow_insecure=svc.settings.allow_insecure_targets
    )
    limit = svc.settings.max_connectors
    created = await connectors.insert(svc.db, svc.box, connector, svc.now(), limit)
    if created is None:
        raise BadRequest(f"a project may have at most {limit} data connectors")
    return json_response(_render(created, principal, reveal=standard_webhooks.sets_secret(body)))


@routes.get(ONE)
async def get_connector(request: web.Request) -> web.Response:
    principal, project_id = await authorize(request, auth.USER)
    return json_response(_render(await _existing(request, project_id), principal))


@routes.patch(ONE)
async def update_connector(request: web.Request) -> web.Response:
    principal, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request))
    paths = patch_paths(body, query_value(request, "update_mask", "updateMask"))
    svc = services(request)
    connector_id = request.match_info["connector"]
    allow_insecure = svc.settings.allow_insecure_targets
    # Bad input raises inside the transaction, which then changes nothing.
    updated = await connectors.update(
        svc.db,
        svc.box,
        project_id,
        connector_id,
        lambda current: apply_changes(current, body, paths, allow_insecure=allow_insecure),
        svc.now(),
        svc.metrics.count_dropped,
    )
    if updated is None:
        raise NotFound(f"data connector {connector_id} not found")
    return json_response(_render(updated, principal, reveal=standard_webhooks.sets_secret(body)))


@routes.delete(ONE)
async def delete_connector(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.DEVELOPER)
    connector_id = request.match_info["connector"]
    svc = services(request)
    dropped = svc.metrics.count_dropped
    if not await connectors.delete(svc.db, project_id, connector_id, svc.now(), dropped):
        raise NotFound(f"data connector {connector_id} not found")
    return json_response({})


@routes.post(ONE + ":sync")
async def sync_connector(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.DEVELOPER)
    await read_json(request, allow_empty=True)
    connector = await _existing(request, project_id)
    if connector.status != ACTIVE:
        raise BadRequest("only an ACTIVE data connector can be synced")
    svc = services(request)
    now = svc.now()
    queued = await enqueue.enqueue_sync(
        svc.db,
        project_id,
        connector.id,
        connector.events,
        now,
        now + timedelta(seconds=svc.settings.delivery_max_age),
    )
    svc.metrics.deliveries_enqueued.labels("sync").inc(queued)
    return json_response({})


@routes.get(ONE + ":metrics")
async def connector_metrics(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    connector = await _existing(request, project_id)
    svc = services(request)
    start = (svc.now() - METRICS_WINDOW).replace(second=0, microsecond=0)
    successes, errors, buckets = await stats.since(svc.db, project_id, connector.id, start)
    return json_response({
        "metrics": {
            "successCount": successes,
            "errorCount": errors,
            "latency99p": latency.duration_text(latency.quantile(buckets, 0.99)),
        }
    })
