"""The installation's one organization and its projects.

An organization admin (roles/organization.admin) creates, renames, lists and deletes projects;
members see only their projects. A deleted project answers 404 at once; its devices, events
and queue are then removed in batches by a background task, which resumes after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from gateway.api import auth
from gateway.api.common import (
    SERVICES,
    authorize,
    caller,
    json_object,
    json_response,
    page,
    page_request,
    query_value,
    read_json,
    services,
)
from gateway.errors import DATABASE_FAILED, BadRequest, NotFound
from gateway.ids import new_id
from gateway.store import accounts, projects

log = structlog.get_logger(__name__)
# The database is away, or refused the statement: log it and carry on.
routes = web.RouteTableDef()
ONE = "/v2/projects/{project:[A-Za-z0-9_\\-]{1,64}}"
MAX_NAME = 200
PURGE_BATCH = 5000


class ProjectPurger:
    """Removes deleted projects' rows, woken by each deletion and run once at start."""

    def __init__(self, db: asyncpg.Pool, batch: int = PURGE_BATCH) -> None:
        self._db = db
        self.batch = batch
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()

    def wake(self) -> None:
        self.idle.clear()
        self._wake.set()

    async def run(self) -> None:
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                for project_id in await projects.being_deleted(self._db):
                    removed = await projects.purge(self._db, project_id, self.batch)
                    log.info("project_purged", project=project_id, rows=removed)
            except DATABASE_FAILED as error:
                log.warning("project_purge_failed", error=type(error).__name__)
                await asyncio.sleep(1.0)
                self._wake.set()
            if not self._wake.is_set():
                self.idle.set()


PURGER = web.AppKey("project_purger", ProjectPurger)


async def purging(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the purger's task, after the database pool exists."""
    purger = ProjectPurger(app[SERVICES].db)
    app[PURGER] = purger
    task = asyncio.create_task(purger.run(), name="project_purger")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def organization_json(db: asyncpg.Pool) -> dict[str, str]:
    row = await projects.organization(db)
    return {"name": f"organizations/{row['id']}", "displayName": row["display_name"]}


def project_json(row: asyncpg.Record, organization: dict[str, str]) -> dict[str, Any]:
    return {
        "name": f"projects/{row['id']}",
        "displayName": row["display_name"],
        "organization": organization["name"],
        "organizationDisplayName": organization["displayName"],
        "sensorCount": row["sensors"],
        "cloudConnectorCount": row["cloud_connectors"],
        "inventory": False,
    }


def _display_name(body: dict[str, Any], allowed: set[str]) -> str:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or "\0" in name:
        raise BadRequest(f"displayName must be 1 to {MAX_NAME} characters")
    return name


async def _check_organization(request: web.Request, name: object) -> dict[str, str]:
    organization = await organization_json(services(request).db)
    if name is not None and name != organization["name"]:
        raise NotFound(f"{name} not found")
    return organization


@routes.get("/v2/organizations")
async def list_organizations(request: web.Request) -> web.Response:
    await caller(request)
    organization = await organization_json(services(request).db)
    return json_response({"organizations": [organization], "nextPageToken": ""})


@routes.get("/v2/organizations/{organization}")
async def get_organization(request: web.Request) -> web.Response:
    await caller(request)
    name = "organizations/" + request.match_info["organization"]
    return json_response(await _check_organization(request, name))


@routes.get("/v2/projects")
async def list_projects(request: web.Request) -> web.Response:
    """The caller's projects (every project for an organization admin)."""
    principal = await caller(request)
    organization = await _check_organization(request, request.query.get("organization"))
    size, after = page_request(request)
    among = None if principal.organization_admin else sorted(principal.roles)
    query = query_value(request, "query") or ""
    rows = await projects.list_page(services(request).db, among, query, after, size + 1)
    rows, token = page(rows, size, lambda row: row["id"])
    return json_response({
        "projects": [project_json(row, organization) for row in rows], "nextPageToken": token,
    })


@routes.post("/v2/projects")
async def create_project(request: web.Request) -> web.Response:
    principal = await caller(request)
    principal.require_organization_admin()
    body = json_object(await read_json(request))
    name = _display_name(body, {"displayName", "organization"})
    organization = await _check_organization(request, body.get("organization"))
    svc = services(request)
    project_id = new_id()
    await accounts.create_project(svc.db, project_id, name, svc.now())
    row = await projects.get(svc.db, project_id)
    assert row is not None
    return json_response(project_json(row, organization))


async def _project(request: web.Request, project_id: str) -> web.Response:
    db = services(request).db
    row = await projects.get(db, project_id)
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return json_response(project_json(row, await organization_json(db)))


@routes.get(ONE)
async def get_project(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.USER)
    return await _project(request, project_id)


@routes.patch(ONE)
async def update_project(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.ADMIN)
    body = json_object(await read_json(request, allow_empty=True))
    if body.keys() - {"displayName"} or "displayName" in body:
        name = _display_name(body, {"displayName"})
        if not await projects.rename(services(request).db, project_id, name):
            raise NotFound(f"project {project_id} not found")
    return await _project(request, project_id)


@routes.delete(ONE)
async def delete_project(request: web.Request) -> web.Response:
    """Answers once the project is hidden; its rows are removed in the background."""
    principal, project_id = await authorize(request, auth.USER)
    principal.require_organization_admin()
    svc = services(request)
    if not await projects.mark_deleted(svc.db, project_id, svc.now()):
        raise NotFound(f"project {project_id} not found")
    request.app[PURGER].wake()
    return json_response({})
