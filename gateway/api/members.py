"""A project's members (service accounts with a role) and the caller's permissions.

Members are service accounts, named by their email; each holds one project role. Only a
project admin manages members, and no change may leave a project without an admin.
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
from gateway.api.roles import permissions_in_project
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.ingest.eventdata import format_timestamp
from gateway.store import projects

routes = web.RouteTableDef()
BASE = "/v2/projects/{project}/members"
ONE = BASE + "/{member:" + RESOURCE_ID + "}"


def member_json(project_id: str, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "name": f"projects/{project_id}/members/{row['account_id']}",
        "displayName": row["display_name"],
        "roles": [row["role"]],
        "status": "ACCEPTED",
        "email": row["email"],
        "accountType": "SERVICE_ACCOUNT",
        "createTime": format_timestamp(row["created_at"]),
    }


def _role(body: dict[str, Any]) -> str:
    roles = body.get("roles")
    if not isinstance(roles, list) or len(roles) != 1 or roles[0] not in auth.ROLES:
        raise BadRequest(f"roles must hold one of {', '.join(auth.ROLES)}")
    return str(roles[0])


def _fields(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    return body


async def _member(request: web.Request, project_id: str, member_id: str) -> web.Response:
    row = await projects.get_member(services(request).db, project_id, member_id)
    if row is None:
        raise NotFound(f"member {member_id} not found")
    return json_response(member_json(project_id, row))


@routes.get(BASE)
async def list_members(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    size, after = page_request(request)
    rows = await projects.list_members(services(request).db, project_id, after, size + 1)
    rows, token = page(rows, size, lambda row: row["account_id"])
    return json_response({
        "members": [member_json(project_id, row) for row in rows], "nextPageToken": token,
    })


@routes.post(BASE)
async def add_member(request: web.Request) -> web.Response:
    """Body {"email": <a service account's email>, "roles": ["roles/project.<role>"]}."""
    _, project_id = await authorize(request, auth.ADMIN)
    body = _fields(json_object(await read_json(request)), {"email", "roles"})
    role = _role(body)
    email = body.get("email")
    if not isinstance(email, str) or not email:
        raise BadRequest("email must be a service account's email")
    svc = services(request)
    account_id = await projects.account_by_email(svc.db, email)
    if account_id is None:
        raise NotFound(f"no service account has the email {email}")
    if await projects.insert_member(svc.db, project_id, email, role, svc.now()) is None:
        raise Conflict(f"{email} is a member already")
    return await _member(request, project_id, account_id)


@routes.get(ONE)
async def get_member(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    return await _member(request, project_id, request.match_info["member"])


async def _change(request: web.Request, project_id: str, role: str | None) -> None:
    member_id = request.match_info["member"]
    outcome = await projects.change_member(services(request).db, project_id, member_id, role)
    if outcome == "missing":
        raise NotFound(f"member {member_id} not found")
    if outcome == "last_admin":
        raise Conflict("a project keeps at least one roles/project.admin member")


@routes.patch(ONE)
async def update_member(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.ADMIN)
    role = _role(_fields(json_object(await read_json(request)), {"roles"}))
    await _change(request, project_id, role)
    return await _member(request, project_id, request.match_info["member"])


@routes.delete(ONE)
async def remove_member(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.ADMIN)
    await _change(request, project_id, None)
    return json_response({})


@routes.get("/v2/projects/{project}/permissions")
async def list_permissions(request: web.Request) -> web.Response:
    principal, project_id = await authorize(request, auth.USER)
    return json_response({
        "permissions": permissions_in_project(principal, project_id), "nextPageToken": "",
    })
