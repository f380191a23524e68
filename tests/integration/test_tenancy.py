"""Tenant walls: every route refuses other projects (404), low roles (403) and strangers (401),
and a refused request changes nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.api import auth
from gateway.config import Settings
from gateway.store import accounts
from tests.harness import Account, Gateway, configured
from tests.integration.helpers import assert_error, snapshot

HOOK = "https://example.com/hook"
SECRET = "a-signature-secret"


Body = Callable[[str, str], Any]  # (project, device) -> JSON body


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {p}, {c} and {d} for the project, connector and device
    body: Body | None = None
    write: bool = True

    def url(self, project: str, connector: str, device: str) -> str:
        return "/v2/projects/" + self.path.format(p=project, c=connector, d=device)


def _window() -> Any:
    now = datetime.now(UTC)
    return {"startTime": (now - timedelta(hours=1)).isoformat(), "endTime": now.isoformat()}


def _relabel(project: str, device: str) -> Any:
    return {"devices": [f"projects/{project}/devices/{device}"], "addLabels": {"room": "9"}}


ROUTES = [
    Route("GET", "{p}/dataconnectors", write=False),
    Route("POST", "{p}/dataconnectors", lambda p, d: {"httpConfig": {"url": HOOK}}),
    Route("GET", "{p}/dataconnectors/{c}", write=False),
    Route("PATCH", "{p}/dataconnectors/{c}", lambda p, d: {"displayName": "changed"}),
    Route("DELETE", "{p}/dataconnectors/{c}"),
    Route("POST", "{p}/dataconnectors/{c}:sync"),
    Route("GET", "{p}/dataconnectors/{c}:metrics", write=False),
    Route("POST", "{p}/devices", lambda p, d: {"type": "touch"}),
    Route("GET", "{p}/devices", write=False),
    Route("GET", "{p}/devices/{d}", write=False),
    Route("DELETE", "{p}/devices/{d}"),
    Route("POST", "{p}/devices:batchUpdate", _relabel),
    Route("POST", "{p}/devices/{d}:publish", lambda p, d: {"touch": {}}),
    Route(
        "POST",
        "{p}/devices:publishBatch",
        lambda p, d: {"events": [{"device": d, "data": {"touch": {}}}]},
    ),
    Route("GET", "{p}/devices/{d}/events", write=False),
    Route("GET", "{p}/dataconnectors/{c}/deliveries", write=False),
    Route("POST", "{p}/dataconnectors/{c}:replay", lambda p, d: _window()),
    Route("POST", "{p}/dataconnectors/{c}:redeliver", lambda p, d: {"eventIds": ["e1"]}),
    Route("POST", "{p}/dataconnectors/{c}:test"),
]


@dataclass
class Tenant:
    """A project with a connector, a device and one event, and its developer."""

    owner: Account
    connector: str
    device: str


async def tenant(gateway: Gateway) -> Tenant:
    owner = await gateway.project(auth.DEVELOPER)
    created = await gateway.connector(owner, HOOK, http={"signatureSecret": SECRET})
    device = await gateway.device(owner, "touch", name="door")
    await gateway.publish(owner, device, {"touch": {}})
    return Tenant(owner, created["name"].split("/")[-1], device)


async def send(
    gateway: Gateway, route: Route, target: Tenant, account: Account | None, expect: int, **kw: Any
) -> Any:
    project = target.owner.project_id
    url = route.url(project, target.connector, target.device)
    extra = {"json": route.body(project, target.device)} if route.body else {}
    return await gateway.call(route.method, url, account, expect=expect, **extra, **kw)


async def test_another_projects_credential_gets_404_everywhere(gateway: Gateway) -> None:
    target = await tenant(gateway)
    stranger = await gateway.project(auth.ADMIN)
    before = await snapshot(gateway.db)
    for route in ROUTES:
        body = await send(gateway, route, target, stranger, 404)
        assert_error(body, 404)
    assert await snapshot(gateway.db) == before


async def test_own_project_cannot_reach_another_projects_resources(gateway: Gateway) -> None:
    target = await tenant(gateway)
    other = await tenant(gateway)
    before = await snapshot(gateway.db)
    # Other's credential, other's project in the URL, target's connector and device ids.
    crossed = Tenant(other.owner, target.connector, target.device)
    for route in ROUTES:
        if route.path.endswith(":batchUpdate"):
            body = await send(gateway, route, crossed, other.owner, 200)
            assert body == {"batchErrors": [{
                "device": f"projects/{other.owner.project_id}/devices/{target.device}",
                "status": {"code": "NOT_FOUND", "message": "device not found"},
            }]}
        elif "{c}" in route.path or "{d}" in route.path or route.path.endswith("publishBatch"):
            assert_error(await send(gateway, route, crossed, other.owner, 404), 404)
    assert await snapshot(gateway.db) == before


async def test_batch_update_naming_another_projects_device_is_refused(gateway: Gateway) -> None:
    target = await tenant(gateway)
    other = await tenant(gateway)
    before = await snapshot(gateway.db)
    path = f"/v2/projects/{other.owner.project_id}/devices:batchUpdate"
    name = f"projects/{target.owner.project_id}/devices/{target.device}"
    body = await gateway.call(
        "POST", path, other.owner, expect=400, json={"devices": [name], "addLabels": {"a": "b"}}
    )
    assert_error(body, 400)
    assert await snapshot(gateway.db) == before


async def test_user_role_may_read_but_not_write(gateway: Gateway) -> None:
    target = await tenant(gateway)
    reader = await gateway.account(target.owner.project_id, auth.USER)
    before = await snapshot(gateway.db)
    for route in ROUTES:
        expect = 403 if route.write else 200
        body = await send(gateway, route, target, reader, expect)
        if route.write:
            assert_error(body, 403)
    assert await snapshot(gateway.db) == before


async def test_role_is_per_project(gateway: Gateway) -> None:
    target = await tenant(gateway)
    other = await tenant(gateway)
    # A developer in `other` who is only a user in `target`.
    await accounts.add_member(
        gateway.db, target.owner.project_id, other.owner.key_id, auth.USER, gateway.clock()
    )
    before = await snapshot(gateway.db)
    for route in ROUTES:
        if route.write:
            assert_error(await send(gateway, route, target, other.owner, 403), 403)
    assert await snapshot(gateway.db) == before
    patch = next(r for r in ROUTES if r.method == "PATCH")
    changed = await send(gateway, patch, other, other.owner, 200)
    assert changed["displayName"] == "changed"


def basic(key_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Every route is tried with the same key's wrong secrets: far more failures than the
    # sign-in limit lets through in a minute (tests/integration/test_auth_ratelimit.py).
    return configured(settings, auth_failure_limit=10_000)


async def test_missing_or_bad_credentials_get_401_everywhere(gateway: Gateway) -> None:
    target = await tenant(gateway)
    other = await gateway.project()
    before = await snapshot(gateway.db)
    owner = target.owner
    credentials: list[dict[str, str]] = [
        {},
        basic(owner.key_id, other.secret),
        basic(owner.key_id, ""),
        basic("", owner.secret),
        {"Authorization": "Bearer " + owner.secret},
        {"Authorization": "Basic"},
    ]
    for route in ROUTES:
        for headers in credentials:
            body = await send(gateway, route, target, None, 401, headers=headers)
            assert_error(body, 401)
    assert await snapshot(gateway.db) == before


async def test_signature_secret_is_masked_for_users(gateway: Gateway) -> None:
    target = await tenant(gateway)
    reader = await gateway.account(target.owner.project_id, auth.USER)
    admin = await gateway.account(target.owner.project_id, auth.ADMIN)
    unsigned = await gateway.connector(target.owner, HOOK)
    base = f"/v2/projects/{target.owner.project_id}/dataconnectors"
    one = f"{base}/{target.connector}"

    listed = await gateway.call("GET", base, reader)
    secrets = {c["name"]: c["httpConfig"]["signatureSecret"] for c in listed["dataConnectors"]}
    assert secrets[unsigned["name"]] == ""
    assert sorted(secrets.values()) == ["", "********"]
    assert (await gateway.call("GET", one, reader))["httpConfig"]["signatureSecret"] == "********"

    for account in (target.owner, admin):
        assert (await gateway.call("GET", one, account))["httpConfig"]["signatureSecret"] == SECRET
        listed = await gateway.call("GET", base, account)
        assert SECRET in [c["httpConfig"]["signatureSecret"] for c in listed["dataConnectors"]]
    patched = await gateway.call("PATCH", one, target.owner, json={"displayName": "x"})
    assert patched["httpConfig"]["signatureSecret"] == SECRET
