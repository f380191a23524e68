"""Device routes: create, list, get (with `reported`), delete, and labels by `devices:batchUpdate`.

A label change publishes a `labelsChanged` event in the same transaction, delivered like any other.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web

from gateway.api import auth
from gateway.api.common import (
    RESOURCE_ID,
    authorize,
    caller,
    json_object,
    json_response,
    page,
    page_request,
    read_json,
    services,
)
from gateway.errors import BadRequest, NotFound
from gateway.ids import new_id
from gateway.ingest import publish as ingest
from gateway.model import DEVICE_TYPES
from gateway.store import Connection, devices

routes = web.RouteTableDef()
BASE = "/v2/projects/{project}/devices"
ONE = BASE + "/{device:" + RESOURCE_ID + "}"
MAX_LABELS, MAX_LABEL_TEXT = 100, 1024
MAX_BATCH_DEVICES = 1000
_DEVICE_NAME = re.compile(r"^projects/([^/]+)/devices/(" + RESOURCE_ID + ")$")


def device_json(project_id: str, row: asyncpg.Record, reported: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"projects/{project_id}/devices/{row['id']}",
        "type": row["type"],
        "productNumber": row["product_number"],
        "labels": row["labels"],
        "reported": reported,
    }


def parse_labels(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object of strings")
    if len(value) > MAX_LABELS:
        raise BadRequest(f"{name} may hold at most {MAX_LABELS} labels")
    for key, text in value.items():
        if not key or len(key) > MAX_LABEL_TEXT or "\0" in key:
            raise BadRequest(f"{name}: label keys must be 1 to {MAX_LABEL_TEXT} characters, no NUL")
        if not isinstance(text, str) or len(text) > MAX_LABEL_TEXT or "\0" in text:
            raise BadRequest(
                f"{name}.{key} must be a string of at most {MAX_LABEL_TEXT} characters, no NUL"
            )
    return value


@routes.post(BASE)
async def create_device(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request))
    unknown = sorted(set(body) - {"type", "labels", "productNumber"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    device_type = body.get("type")
    if not isinstance(device_type, str) or device_type not in DEVICE_TYPES:
        raise BadRequest(f"type must be one of {', '.join(sorted(DEVICE_TYPES))}")
    labels = parse_labels(body.get("labels", {}), "labels")
    product_number = body.get("productNumber", "")
    if not isinstance(product_number, str) or len(product_number) > 64 or "\0" in product_number:
        raise BadRequest("productNumber must be a string of at most 64 characters")
    svc = services(request)
    row = await devices.insert(
        svc.db, project_id, "emu" + new_id(), device_type, product_number, labels, svc.now()
    )
    return json_response(device_json(project_id, row, {}))


def list_param(request: web.Request, *names: str) -> list[str]:
    """A repeated query parameter, also accepted comma-separated, under any of its spellings."""
    values = [value for name in names for value in request.query.getall(name, [])]
    if any("\0" in value for value in values):
        raise BadRequest(f"{names[0]} must not contain NUL")
    return [item for value in values for item in value.split(",") if item]


def label_filter(
    request: web.Request, *, bare_keys: bool = False
) -> tuple[dict[str, str], list[str]]:
    """label_filters as (key = value, keys present with any value): `key=value`, or `key=`
    (and, with `bare_keys`, a bare `key`, as the SDK's stream call sends it) for any value."""
    labels: dict[str, str] = {}
    keys: list[str] = []
    for text in list_param(request, "label_filters", "labelFilters"):
        key, equals, value = text.partition("=")
        if not key or not (equals or bare_keys):
            raise BadRequest("label_filters take the form key=value, or key= for any value")
        if value:
            labels[key] = value
        else:
            keys.append(key)
    return labels, keys


def _device_filter(request: web.Request) -> devices.DeviceFilter:
    for unsupported in ("query", "order_by", "orderBy"):
        if unsupported in request.query:
            raise BadRequest(f"the {unsupported} parameter is not supported")
    labels, keys = label_filter(request)
    return devices.DeviceFilter(
        ids=list_param(request, "device_ids", "deviceIds"),
        types=list_param(request, "device_types", "deviceTypes"),
        labels=labels,
        label_keys=keys,
    )


@routes.get(BASE)
async def list_devices(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    size, after = page_request(request)
    db = services(request).db
    where = _device_filter(request)
    rows, token = page(
        await devices.list_page(db, project_id, after, size + 1, where), size, lambda r: r["id"]
    )
    reported = await devices.reported(db, project_id, [row["id"] for row in rows])
    return json_response({
        "devices": [device_json(project_id, row, reported[row["id"]]) for row in rows],
        "nextPageToken": token,
    })


@routes.get(ONE)
async def get_device(request: web.Request) -> web.Response:
    """Project `-` searches the device among the caller's projects."""
    device_id = request.match_info["device"]
    db = services(request).db
    if request.match_info["project"] == "-":
        principal = await caller(request)
        among = None if principal.organization_admin else sorted(principal.roles)
        row = await devices.find(db, among, device_id)
        project_id = row["project_id"] if row is not None else "-"
    else:
        _, project_id = await authorize(request, auth.USER)
        row = await devices.get(db, project_id, device_id)
    if row is None:
        raise NotFound(f"device {device_id} not found")
    reported = await devices.reported(db, project_id, [device_id])
    return json_response(device_json(project_id, row, reported[device_id]))


@routes.delete(ONE)
async def delete_device(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.DEVELOPER)
    device_id = request.match_info["device"]
    if not await devices.delete(services(request).db, project_id, device_id):
        raise NotFound(f"device {device_id} not found")
    return json_response({})


def _batch_device_ids(project_id: str, names: Any) -> list[str]:
    if not isinstance(names, list) or not names:
        raise BadRequest("devices must be a non-empty list of device names")
    if len(names) > MAX_BATCH_DEVICES:
        raise BadRequest(f"devices may name at most {MAX_BATCH_DEVICES} devices")
    ids = []
    for name in names:
        match = _DEVICE_NAME.match(name) if isinstance(name, str) else None
        if match is None:
            raise BadRequest("devices must hold names like projects/<p>/devices/<d>")
        if match.group(1) != project_id:
            raise BadRequest(f"{name} is not in project {project_id}")
        ids.append(match.group(2))
    return list(dict.fromkeys(ids))


def _label_change(
    labels: dict[str, str], add: dict[str, str], remove: list[str]
) -> tuple[dict[str, str], dict[str, Any]] | None:
    """The new labels and the labelsChanged data, or None when nothing changes."""
    added = {key: value for key, value in add.items() if key not in labels}
    modified = {k: v for k, v in add.items() if k in labels and labels[k] != v}
    removed = [key for key in remove if key in labels and key not in add]
    if not (added or modified or removed):
        return None
    new_labels = {k: v for k, v in labels.items() if k not in removed} | add
    return new_labels, {"added": added, "modified": modified, "removed": removed}


@routes.post(BASE + ":batchUpdate")
async def batch_update(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request))
    unknown = sorted(set(body) - {"devices", "addLabels", "removeLabels"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    device_ids = _batch_device_ids(project_id, body.get("devices"))
    add = parse_labels(body.get("addLabels", {}), "addLabels")
    remove = body.get("removeLabels", [])
    if not isinstance(remove, list) or not all(isinstance(key, str) for key in remove):
        raise BadRequest("removeLabels must be a list of label keys")
    svc = services(request)
    now = svc.now()
    changes: dict[str, dict[str, Any]] = {}

    def change(row: asyncpg.Record) -> dict[str, str] | None:
        result = _label_change(row["labels"], add, remove)
        if result is None:
            return None
        changes[row["id"]] = result[1]
        return result[0]

    async def publish(connection: Connection, changed: list[Any]) -> None:
        events = [
            ingest.new_event(row["id"], "labelsChanged", changes[row["id"]], now, None)
            for row, _ in changed
        ]
        max_age = timedelta(seconds=svc.settings.delivery_max_age)
        bodies = ingest.bodies(project_id, events)
        await ingest.store(connection, project_id, events, bodies, now, max_age, svc.metrics)

    found = await devices.relabel(svc.db, project_id, device_ids, change, publish)
    errors = [
        {
            "device": f"projects/{project_id}/devices/{device_id}",
            "status": {"code": "NOT_FOUND", "message": "device not found"},
        }
        for device_id in device_ids
        if device_id not in found
    ]
    return json_response({"batchErrors": errors})
