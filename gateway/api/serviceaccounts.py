"""Service accounts of a project and their keys, as DT's API has them.

An account may hold several keys: a key is rotated by creating a new one and deleting the old.
A key's secret is in the answer to its creation only; the gateway keeps its SHA-256 alone.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from gateway.api import auth
from gateway.api.common import (
    RESOURCE_ID,
    authorize,
    json_object,
    json_response,
    page,
    page_request,
    read_json,
    services,
)
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.ids import new_id
from gateway.ingest.eventdata import format_timestamp
from gateway.store import accounts

routes = web.RouteTableDef()
BASE = "/v2/projects/{project}/serviceaccounts"
ONE = BASE + "/{account:" + RESOURCE_ID + "}"
KEYS = ONE + "/keys"
KEY = KEYS + "/{key:" + RESOURCE_ID + "}"
MAX_NAME = 200


def account_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "name": f"projects/{row['project_id']}/serviceaccounts/{row['id']}",
        "email": row["email"],
        "displayName": row["display_name"],
        "enableBasicAuth": row["basic_auth"],
        "createTime": format_timestamp(row["created_at"]),
        "updateTime": format_timestamp(row["updated_at"]),
    }


def key_json(project_id: str, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "name": f"projects/{project_id}/serviceaccounts/{row['account_id']}/keys/{row['id']}",
        "id": row["id"],
        "createTime": format_timestamp(row["created_at"]),
    }


def _account_fields(body: dict[str, Any]) -> dict[str, object]:
    unknown = sorted(set(body) - {"displayName", "enableBasicAuth"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    fields: dict[str, object] = {}
    if "displayName" in body:
        name = body["displayName"]
        if not isinstance(name, str) or len(name) > MAX_NAME or "\0" in name:
            raise BadRequest(f"displayName must be a string of at most {MAX_NAME} characters")
        fields["display_name"] = name
    if "enableBasicAuth" in body:
        if not isinstance(body["enableBasicAuth"], bool):
            raise BadRequest("enableBasicAuth must be true or false")
        fields["basic_auth"] = body["enableBasicAuth"]
    return fields


async def _account(request: web.Request, project_id: str) -> asyncpg.Record:
    account_id = request.match_info["account"]
    row = await accounts.get_account(services(request).db, project_id, account_id)
    if row is None:
        raise NotFound(f"service account {account_id} not found")
    return row


@routes.get(BASE)
async def list_service_accounts(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    size, after = page_request(request)
    rows = await accounts.list_accounts(services(request).db, project_id, after, size + 1)
    rows, token = page(rows, size, lambda row: row["id"])
    return json_response({
        "serviceAccounts": [account_json(row) for row in rows], "nextPageToken": token,
    })


@routes.post(BASE)
async def create_service_account(request: web.Request) -> web.Response:
    """A new account without keys or roles: add keys, then make it a member."""
    _, project_id = await authorize(request, auth.ADMIN)
    fields = _account_fields(json_object(await read_json(request, allow_empty=True)))
    svc = services(request)
    account_id = new_id()
    row = await accounts.insert_account(
        svc.db, account_id, project_id, auth.email_of(account_id, project_id),
        str(fields.get("display_name", "")), bool(fields.get("basic_auth", False)), svc.now(),
    )
    return json_response(account_json(row))


@routes.get(ONE)
async def get_service_account(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    return json_response(account_json(await _account(request, project_id)))


@routes.patch(ONE)
async def update_service_account(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.ADMIN)
    fields = _account_fields(json_object(await read_json(request, allow_empty=True)))
    svc = services(request)
    account_id = request.match_info["account"]
    row = await accounts.update_account(svc.db, project_id, account_id, fields, svc.now())
    if row is None:
        raise NotFound(f"service account {account_id} not found")
    return json_response(account_json(row))


@routes.delete(ONE)
async def delete_service_account(request: web.Request) -> web.Response:
    """Its keys, tokens and memberships go with it, unless it is a project's last admin."""
    _, project_id = await authorize(request, auth.ADMIN)
    account_id = request.match_info["account"]
    deleted, orphaned = await accounts.delete_account(services(request).db, account_id, project_id)
    if orphaned:
        raise Conflict(f"the service account is the last admin of {', '.join(orphaned)}")
    if not deleted:
        raise NotFound(f"service account {account_id} not found")
    return json_response({})


@routes.get(KEYS)
async def list_keys(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    account = await _account(request, project_id)
    size, after = page_request(request)
    rows = await accounts.list_keys(services(request).db, account["id"], after, size + 1)
    rows, token = page(rows, size, lambda row: row["id"])
    return json_response({
        "keys": [key_json(project_id, row) for row in rows], "nextPageToken": token,
    })


@routes.post(KEYS)
async def create_key(request: web.Request) -> web.Response:
    """The key and, this once, its secret."""
    _, project_id = await authorize(request, auth.ADMIN)
    await read_json(request, allow_empty=True)
    account = await _account(request, project_id)
    svc = services(request)
    row, secret = await auth.create_key(svc.db, account["id"], svc.now())
    return json_response({"key": key_json(project_id, row), "secret": secret})


@routes.get(KEY)
async def get_key(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    account = await _account(request, project_id)
    key_id = request.match_info["key"]
    row = await accounts.get_key(services(request).db, account["id"], key_id)
    if row is None:
        raise NotFound(f"key {key_id} not found")
    return json_response(key_json(project_id, row))


@routes.delete(KEY)
async def delete_key(request: web.Request) -> web.Response:
    """The key's Basic auth and its access tokens stop working at once."""
    _, project_id = await authorize(request, auth.ADMIN)
    account = await _account(request, project_id)
    key_id = request.match_info["key"]
    if not await accounts.delete_key(services(request).db, account["id"], key_id):
        raise NotFound(f"key {key_id} not found")
    return json_response({})
