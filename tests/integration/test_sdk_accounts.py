"""Service accounts, keys, members and roles through the real SDK against a running gateway."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import disruptive as dt
import pytest
import pytest_asyncio

from gateway.api import auth
from tests.harness import Account, Gateway
from tests.integration.sdk_support import account_auth, sdk, sdk_auth, sdk_globals

pytestmark = pytest.mark.usefixtures("sdk_globals")
__all__ = ["sdk_globals"]


@pytest_asyncio.fixture
async def admin(gateway: Gateway) -> AsyncIterator[Account]:
    """A project admin whose credentials the SDK uses; the SDK tries each call once."""
    account = await gateway.project(auth.ADMIN)
    dt.base_url = dt.emulator_base_url = str(gateway.client.make_url("/v2"))
    dt.default_auth = account_auth(gateway, account)
    dt.request_attempts = 1
    yield account


def basic(key_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_service_account_create_get_list_update_delete(
    gateway: Gateway, admin: Account
) -> None:
    project = admin.project_id
    created = await sdk(dt.ServiceAccount.create_service_account, project,
                        display_name="ingest", basic_auth_enabled=True)
    assert (created.display_name, created.basic_auth_enabled) == ("ingest", True)
    assert created.email.startswith(created.service_account_id + "@")
    assert created.create_time is not None and created.update_time is not None
    bare = await sdk(dt.ServiceAccount.create_service_account, project)
    assert (bare.display_name, bare.basic_auth_enabled) == ("", False)

    got = await sdk(dt.ServiceAccount.get_service_account, created.service_account_id, project)
    assert got._raw == created._raw
    listed = await sdk(dt.ServiceAccount.list_service_accounts, project)
    assert {a.service_account_id for a in listed} == {
        admin.key_id, created.service_account_id, bare.service_account_id
    }
    renamed = await sdk(dt.ServiceAccount.update_service_account, created.service_account_id,
                        project, display_name="renamed", basic_auth_enabled=False)
    assert (renamed.display_name, renamed.basic_auth_enabled) == ("renamed", False)

    assert await sdk(dt.ServiceAccount.delete_service_account,
                     bare.service_account_id, project) is None
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.ServiceAccount.get_service_account, bare.service_account_id, project)
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.ServiceAccount.delete_service_account, bare.service_account_id, project)


async def test_key_rotation(gateway: Gateway, admin: Account) -> None:
    """A new key works at once; a deleted key's Basic auth and access tokens get 401 at once."""
    project = admin.project_id
    account = await sdk(dt.ServiceAccount.create_service_account, project,
                        display_name="rotating", basic_auth_enabled=True)
    account_id = account.service_account_id
    await sdk(dt.Project.add_member, project, account.email, [dt.Role.PROJECT_DEVELOPER])
    old = await sdk(dt.ServiceAccount.create_key, account_id, project)
    assert old.secret and old.key_id
    listing = f"/v2/projects/{project}/dataconnectors"
    await gateway.call("GET", listing, None, headers=basic(old.key_id, old.secret))
    old_token = await sdk(sdk_auth(gateway, old.key_id, old.secret, account.email).get_token)

    new = await sdk(dt.ServiceAccount.create_key, account_id, project)
    keys = await sdk(dt.ServiceAccount.list_keys, account_id, project)
    assert {k.key_id for k in keys} == {old.key_id, new.key_id}
    assert all(k.secret is None for k in keys)
    got = await sdk(dt.ServiceAccount.get_key, new.key_id, account_id, project)
    assert (got.key_id, got.secret) == (new.key_id, None)

    await sdk(dt.ServiceAccount.delete_key, old.key_id, account_id, project)
    await gateway.call("GET", listing, None, expect=401, headers=basic(old.key_id, old.secret))
    await gateway.call("GET", listing, None, expect=401,
                       headers={"Authorization": old_token})
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.ServiceAccount.get_key, old.key_id, account_id, project)

    # The new key, through the SDK's own sign-in.
    dt.default_auth = sdk_auth(gateway, new.key_id, new.secret, account.email)
    assert await sdk(dt.DataConnector.list_data_connectors, project) == []
    await gateway.call("GET", listing, None, headers=basic(new.key_id, new.secret))


async def test_basic_auth_disabled_refuses_basic_only(gateway: Gateway, admin: Account) -> None:
    project = admin.project_id
    account = await sdk(dt.ServiceAccount.create_service_account, project)
    await sdk(dt.Project.add_member, project, account.email, [dt.Role.PROJECT_USER])
    key = await sdk(dt.ServiceAccount.create_key, account.service_account_id, project)
    listing = f"/v2/projects/{project}/dataconnectors"
    await gateway.call("GET", listing, None, expect=401, headers=basic(key.key_id, key.secret))
    token = await sdk(sdk_auth(gateway, key.key_id, key.secret, account.email).get_token)
    await gateway.call("GET", listing, None, headers={"Authorization": token})
    await sdk(dt.ServiceAccount.update_service_account, account.service_account_id, project,
              basic_auth_enabled=True)
    await gateway.call("GET", listing, None, headers=basic(key.key_id, key.secret))


async def test_a_key_of_another_account_is_404(gateway: Gateway, admin: Account) -> None:
    project = admin.project_id
    first = await sdk(dt.ServiceAccount.create_service_account, project)
    second = await sdk(dt.ServiceAccount.create_service_account, project)
    key = await sdk(dt.ServiceAccount.create_key, first.service_account_id, project)
    for call in (dt.ServiceAccount.get_key, dt.ServiceAccount.delete_key):
        with pytest.raises(dt.errors.NotFound):
            await sdk(call, key.key_id, second.service_account_id, project)
    assert len(await sdk(dt.ServiceAccount.list_keys, first.service_account_id, project)) == 1


async def test_members(gateway: Gateway, admin: Account) -> None:
    project = admin.project_id
    account = await sdk(dt.ServiceAccount.create_service_account, project, display_name="bot")
    member = await sdk(dt.Project.add_member, project, account.email, [dt.Role.PROJECT_USER])
    assert (member.member_id, member.roles, member.email) == (
        account.service_account_id, ["project.user"], account.email
    )
    assert (member.display_name, member.status, member.account_type) == (
        "bot", "ACCEPTED", "SERVICE_ACCOUNT"
    )
    with pytest.raises(dt.errors.Conflict):
        await sdk(dt.Project.add_member, project, account.email, [dt.Role.PROJECT_USER])
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.add_member, project, "nobody@example.com", [dt.Role.PROJECT_USER])
    with pytest.raises(dt.errors.BadRequest):
        await sdk(dt.Project.add_member, project, account.email, ["project.owner"])

    members = await sdk(dt.Project.list_members, project)
    assert {(m.member_id, tuple(m.roles)) for m in members} == {
        (admin.key_id, ("project.admin",)), (account.service_account_id, ("project.user",))
    }
    got = await sdk(dt.Project.get_member, member.member_id, project)
    assert got._raw == member._raw
    updated = await sdk(dt.Project.update_member, member.member_id, project,
                        [dt.Role.PROJECT_DEVELOPER])
    assert updated.roles == ["project.developer"]
    assert await sdk(dt.Project.remove_member, member.member_id, project) is None
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.get_member, member.member_id, project)
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Project.remove_member, member.member_id, project)


async def test_the_last_admin_stays(gateway: Gateway, admin: Account) -> None:
    project = admin.project_id
    with pytest.raises(dt.errors.Conflict):
        await sdk(dt.Project.remove_member, admin.key_id, project)
    with pytest.raises(dt.errors.Conflict):
        await sdk(dt.Project.update_member, admin.key_id, project, [dt.Role.PROJECT_USER])
    with pytest.raises(dt.errors.Conflict):
        await sdk(dt.ServiceAccount.delete_service_account, admin.key_id, project)
    second = await gateway.account(project, auth.ADMIN)
    await sdk(dt.Project.remove_member, admin.key_id, project)
    dt.default_auth = account_auth(gateway, second)
    members = await sdk(dt.Project.list_members, project)
    assert [m.member_id for m in members] == [second.key_id]


async def test_permissions_and_roles(gateway: Gateway, admin: Account) -> None:
    project = admin.project_id
    permissions = await sdk(dt.Project.list_permissions, project)
    assert {"membership.create", "serviceaccount.key.create", "dataconnector.read"} <= set(
        permissions
    )
    user = await gateway.account(project, auth.USER)
    dt.default_auth = account_auth(gateway, user)
    assert "dataconnector.create" not in await sdk(dt.Project.list_permissions, project)
    roles = await sdk(dt.Role.list_roles)
    assert [r.role for r in roles] == dt.Role.ROLES
    for role in roles:
        got = await sdk(dt.Role.get_role, role.role)
        assert got._raw == role._raw and got.display_name and got.description
    developer = await sdk(dt.Role.get_role, dt.Role.PROJECT_DEVELOPER)
    assert "dataconnector.create" in developer.permissions
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Role.get_role, "project.owner")


async def test_get_device_without_its_project(gateway: Gateway, admin: Account) -> None:
    other = await gateway.project(auth.DEVELOPER)
    mine = await gateway.device(admin, "touch", name="button")
    theirs = await gateway.device(other, "touch")
    found = await sdk(dt.Device.get_device, mine)
    assert (found.device_id, found.project_id, found.display_name) == (
        mine, admin.project_id, "button"
    )
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Device.get_device, theirs)
