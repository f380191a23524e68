"""The organization and its projects through the real SDK, as an organization admin and as
members; deleting a project removes its rows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import disruptive as dt
import pytest
import pytest_asyncio

from gateway.api import auth
from gateway.api.projects import PURGER
from tests.harness import Account, Gateway
from tests.integration.sdk_support import account_auth, sdk, sdk_globals
from tests.integration.support import eventually

pytestmark = pytest.mark.usefixtures("sdk_globals")
__all__ = ["sdk_globals"]
PROJECT_TABLES = ("connectors", "devices", "events", "reported", "deliveries", "members",
                  "accounts")


@pytest_asyncio.fixture
async def organization_admin(gateway: Gateway) -> AsyncIterator[Account]:
    credentials = await auth.create_service_account(
        gateway.db, None, auth.ORGANIZATION_ADMIN, gateway.clock()
    )
    account = Account(credentials.key_id, credentials.secret, credentials.email, "")
    dt.base_url = dt.emulator_base_url = str(gateway.client.make_url("/v2"))
    dt.default_auth = account_auth(gateway, account)
    dt.request_attempts = 1
    yield account


async def rows_of(gateway: Gateway, project_id: str) -> dict[str, int]:
    counts = {}
    for table in PROJECT_TABLES:  # names from the list above
        counts[table] = await gateway.db.fetchval(
            f"SELECT count(*) FROM {table} WHERE project_id = $1", project_id
        )
    return counts


async def test_organization_admin_manages_projects(
    gateway: Gateway, organization_admin: Account
) -> None:
    organizations = await sdk(dt.Organization.list_organizations)
    assert len(organizations) == 1
    organization = organizations[0]
    got = await sdk(dt.Organization.get_organization, organization.organization_id)
    assert got._raw == organization._raw
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Organization.get_organization, "c0000000000000000000")

    plant = await sdk(dt.Project.create_project, organization.organization_id, "plant-1")
    assert (plant.display_name, plant.organization_id) == ("plant-1", organization.organization_id)
    assert (plant.sensor_count, plant.cloud_connector_count, plant.is_inventory) == (0, 0, False)
    other = await sdk(dt.Project.create_project, organization.organization_id, "office")
    listed = await sdk(dt.Project.list_projects)
    assert {p.project_id for p in listed} == {plant.project_id, other.project_id}
    found = await sdk(dt.Project.list_projects, organization.organization_id, query="PLANT")
    assert [p.project_id for p in found] == [plant.project_id]
    assert await sdk(dt.Project.update_project, plant.project_id, display_name="plant-2") is None
    assert (await sdk(dt.Project.get_project, plant.project_id)).display_name == "plant-2"
    assert await sdk(dt.Project.update_project, plant.project_id) is None  # changes nothing
    assert (await sdk(dt.Project.get_project, plant.project_id)).display_name == "plant-2"
    with pytest.raises(dt.errors.BadRequest):
        await sdk(dt.Project.create_project, organization.organization_id, "")
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.create_project, "c0000000000000000000", "elsewhere")

    # The organization admin administers every project: here, its first member.
    account = await sdk(dt.ServiceAccount.create_service_account, plant.project_id)
    await sdk(dt.Project.add_member, plant.project_id, account.email, [dt.Role.PROJECT_ADMIN])
    assert [m.email for m in await sdk(dt.Project.list_members, plant.project_id)] == [
        account.email
    ]
    elsewhere = await gateway.project(auth.DEVELOPER)
    device = await gateway.device(elsewhere, "touch")
    assert (await sdk(dt.Device.get_device, device)).project_id == elsewhere.project_id


async def test_members_see_only_their_projects(
    gateway: Gateway, organization_admin: Account
) -> None:
    mine = await gateway.project(auth.ADMIN)
    theirs = await gateway.project(auth.ADMIN)
    dt.default_auth = account_auth(gateway, mine)
    assert [p.project_id for p in await sdk(dt.Project.list_projects)] == [mine.project_id]
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.get_project, theirs.project_id)
    organization = (await sdk(dt.Organization.list_organizations))[0].organization_id
    with pytest.raises(dt.errors.Forbidden):
        await sdk(dt.Project.create_project, organization, "mine too")
    with pytest.raises(dt.errors.Forbidden):
        await sdk(dt.Project.delete_project, mine.project_id)
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.delete_project, theirs.project_id)
    user = await gateway.account(mine.project_id, auth.USER)
    dt.default_auth = account_auth(gateway, user)
    with pytest.raises(dt.errors.Forbidden):
        await sdk(dt.Project.update_project, mine.project_id, display_name="x")


async def test_deleting_a_project_removes_its_rows(
    gateway: Gateway, organization_admin: Account
) -> None:
    owner = await gateway.project(auth.ADMIN)
    keep = await gateway.project(auth.DEVELOPER)
    project = owner.project_id
    connector = await gateway.connector(owner, "https://example.com/hook")
    device = await gateway.device(owner, "temperature")
    batch = {"events": [{"device": device, "data": {"temperature": {"value": 1.0}}}] * 1000}
    for _ in range(3):
        await gateway.call("POST", f"/v2/projects/{project}/devices:publishBatch", owner,
                           json=batch)
    kept = await gateway.device(keep, "touch")
    await gateway.publish(keep, kept, {"touch": {}})
    assert (await rows_of(gateway, project))["deliveries"] == 3000
    before = await rows_of(gateway, keep.project_id)

    purger = gateway.client.app[PURGER]
    purger.batch = 500  # several batches per table
    await sdk(dt.Project.delete_project, project)
    for path in (f"/v2/projects/{project}", f"/v2/projects/{project}/devices/{device}",
                 connector["name"].replace("projects/", "/v2/projects/")):
        await gateway.call("GET", path, organization_admin, expect=404)
    await eventually(lambda: purger.idle.is_set())
    # The project's own accounts went with it.
    await gateway.call("GET", f"/v2/projects/{project}/dataconnectors", owner, expect=401)
    assert set((await rows_of(gateway, project)).values()) == {0}
    assert await gateway.db.fetchval("SELECT count(*) FROM projects WHERE id = $1", project) == 0
    assert await rows_of(gateway, keep.project_id) == before
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.delete_project, project)
