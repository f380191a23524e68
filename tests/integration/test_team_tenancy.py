"""Tenant walls and roles on the team routes (projects, service accounts, keys, members,
permissions, the event stream): another project's credential and ids get 404, too low a role
403, no credential 401, and a refused request changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.api import auth
from tests.harness import Account, Gateway
from tests.integration.helpers import assert_error, snapshot


@dataclass(frozen=True)
class Ids:
    project: str
    account: str
    key: str
    member: str
    device: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {p}, {a}, {k}, {m}
    role: str | None = auth.ADMIN  # the lowest role allowed; None: organization admins only
    body: Any = None

    def url(self, ids: Ids) -> str:
        return "/v2/projects/" + self.path.format(
            p=ids.project, a=ids.account, k=ids.key, m=ids.member
        )


SA = "{p}/serviceaccounts"
ROUTES = [
    Route("GET", "{p}", auth.USER),
    Route("PATCH", "{p}", body={"displayName": "renamed"}),
    Route("DELETE", "{p}", None),
    Route("GET", SA, auth.USER),
    Route("POST", SA, body={"displayName": "new"}),
    Route("GET", SA + "/{a}", auth.USER),
    Route("PATCH", SA + "/{a}", body={"enableBasicAuth": False}),
    Route("DELETE", SA + "/{a}"),
    Route("GET", SA + "/{a}/keys", auth.USER),
    Route("POST", SA + "/{a}/keys"),
    Route("GET", SA + "/{a}/keys/{k}", auth.USER),
    Route("DELETE", SA + "/{a}/keys/{k}"),
    Route("GET", "{p}/members", auth.USER),
    Route("POST", "{p}/members", body={"email": "x@y", "roles": [auth.USER]}),
    Route("GET", "{p}/members/{m}", auth.USER),
    Route("PATCH", "{p}/members/{m}", body={"roles": [auth.USER]}),
    Route("DELETE", "{p}/members/{m}"),
    Route("GET", "{p}/permissions", auth.USER),
]


async def tenant(gateway: Gateway) -> tuple[Account, Ids]:
    """A project with an admin, a second account with a key, and a device."""
    owner = await gateway.project(auth.ADMIN)
    member = await gateway.account(owner.project_id, auth.DEVELOPER)
    key = await gateway.call(
        "POST", f"/v2/projects/{owner.project_id}/serviceaccounts/{member.key_id}/keys", owner
    )
    device = await gateway.device(owner, "touch")
    return owner, Ids(owner.project_id, member.key_id, key["key"]["id"], member.key_id, device)


async def call(gateway: Gateway, route: Route, ids: Ids, account: Account | None,
               expect: int) -> Any:
    extra = {"json": route.body} if route.body is not None else {}
    return await gateway.call(route.method, route.url(ids), account, expect=expect, **extra)


async def test_another_projects_admin_gets_404_everywhere(gateway: Gateway) -> None:
    _, ids = await tenant(gateway)
    stranger, _ = await tenant(gateway)
    before = await snapshot(gateway.db)
    for route in ROUTES:
        assert_error(await call(gateway, route, ids, stranger, 404), 404)
    stream = f"/v2/projects/{ids.project}/devices:stream"
    async with gateway.client.get(stream, headers=stranger.headers) as response:
        assert response.status == 404
        assert orjson.loads(await response.read())["error"]["code"] == 404
    await gateway.call("GET", f"/v2/projects/-/devices/{ids.device}", stranger, expect=404)
    assert await snapshot(gateway.db) == before


async def test_own_project_cannot_reach_another_projects_ids(gateway: Gateway) -> None:
    owner, own = await tenant(gateway)
    _, other = await tenant(gateway)
    mixed = Ids(own.project, other.account, other.key, other.member, other.device)
    before = await snapshot(gateway.db)
    for route in ROUTES:
        if "{a}" in route.path or "{m}" in route.path:
            assert_error(await call(gateway, route, mixed, owner, 404), 404)
    assert await snapshot(gateway.db) == before


async def test_lower_roles_get_403_and_change_nothing(gateway: Gateway) -> None:
    owner, ids = await tenant(gateway)
    user = await gateway.account(ids.project, auth.USER)
    developer = await gateway.account(ids.project, auth.DEVELOPER)
    before = await snapshot(gateway.db)
    for route in ROUTES:
        for account, role in ((user, auth.USER), (developer, auth.DEVELOPER)):
            allowed = route.role is not None and auth.ROLES.index(role) >= auth.ROLES.index(
                route.role
            )
            if not allowed:
                assert_error(await call(gateway, route, ids, account, 403), 403)
            elif route.method == "GET":
                await call(gateway, route, ids, account, 200)
    # Only an organization admin deletes a project, whatever the project role.
    assert_error(await call(gateway, ROUTES[2], ids, owner, 403), 403)
    assert await snapshot(gateway.db) == before


async def test_no_credentials_get_401(gateway: Gateway) -> None:
    _, ids = await tenant(gateway)
    before = await snapshot(gateway.db)
    for route in ROUTES:
        assert_error(await call(gateway, route, ids, None, 401), 401)
    for path in ("/v2/projects", "/v2/organizations", "/v2/roles", "/v2/roles/project.user"):
        assert_error(await gateway.call("GET", path, None, expect=401), 401)
    assert await snapshot(gateway.db) == before


async def test_bad_input_is_400_and_changes_nothing(gateway: Gateway) -> None:
    owner, ids = await tenant(gateway)
    before = await snapshot(gateway.db)
    bad = [
        ("POST", SA, {"enableBasicAuth": "yes"}),
        ("POST", SA, {"displayName": 5}),
        ("POST", SA, {"unknown": 1}),
        ("PATCH", SA + "/{a}", {"displayName": "x" * 201}),
        ("POST", "{p}/members", {"email": "x@y", "roles": ["roles/project.owner"]}),
        ("POST", "{p}/members", {"email": "x@y", "roles": [auth.USER, auth.ADMIN]}),
        ("POST", "{p}/members", {"roles": [auth.USER]}),
        ("PATCH", "{p}/members/{m}", {"roles": []}),
        ("PATCH", "{p}", {"displayName": ""}),
    ]
    for method, path, body in bad:
        route = Route(method, path, body=body)
        assert_error(await call(gateway, route, ids, owner, 400), 400)
    assert await snapshot(gateway.db) == before
