"""A read-only role sees no receiver credential; a masked value sent back keeps the stored one."""

from __future__ import annotations

import jwt

from gateway.api import auth
from gateway.masking import MASK
from tests.harness import Gateway
from tests.integration.helpers import assert_error, snapshot
from tests.receiver import Receiver

SECRET = "a-signature-secret-of-reasonable-length"
HEADERS = {"Authorization": "Bearer receiver-token-1", "x-api-key": "key-2", "X-Empty": ""}


async def test_header_values_are_masked_for_users(gateway: Gateway, receiver: Receiver) -> None:
    owner = await gateway.project()
    reader = await gateway.account(owner.project_id, auth.USER)
    created = await gateway.connector(
        owner, receiver.url("/hook"), http={"signatureSecret": SECRET, "headers": HEADERS}
    )
    one, base = f"/v2/{created['name']}", f"/v2/projects/{owner.project_id}/dataconnectors"
    hidden = {"Authorization": MASK, "x-api-key": MASK, "X-Empty": ""}
    for shown in (
        await gateway.call("GET", one, reader),
        (await gateway.call("GET", base, reader))["dataConnectors"][0],
    ):
        assert shown["httpConfig"]["headers"] == hidden
        assert shown["httpConfig"]["signatureSecret"] == MASK
        assert "receiver-token-1" not in str(shown) and "key-2" not in str(shown)
    for editor in (owner, await gateway.account(owner.project_id, auth.ADMIN)):
        assert (await gateway.call("GET", one, editor))["httpConfig"]["headers"] == HEADERS
    assert created["httpConfig"]["headers"] == HEADERS


async def test_a_masked_answer_sent_back_keeps_the_stored_credentials(
    gateway: Gateway, receiver: Receiver
) -> None:
    owner = await gateway.project()
    reader = await gateway.account(owner.project_id, auth.USER)
    created = await gateway.connector(
        owner, receiver.url("/hook"), http={"signatureSecret": SECRET, "headers": HEADERS}
    )
    one = f"/v2/{created['name']}"
    masked = await gateway.call("GET", one, reader)
    masked["httpConfig"]["headers"]["X-New"] = "new-value"
    masked["displayName"] = "renamed"
    patched = await gateway.call("PATCH", one, owner, json=masked)
    assert patched["httpConfig"]["signatureSecret"] == SECRET
    assert patched["httpConfig"]["headers"] == {**HEADERS, "X-New": "new-value"}
    assert patched["displayName"] == "renamed"

    device = await gateway.device(owner)
    await gateway.publish(owner, device, {"temperature": {"value": 4.5}})
    assert await gateway.deliver() == 1
    [push] = receiver.at("/hook")
    assert push.headers["Authorization"] == "Bearer receiver-token-1"
    assert push.headers["x-api-key"] == "key-2"
    jwt.decode(push.headers["X-Dt-Signature"], SECRET, algorithms=["HS256"])


async def test_a_mask_with_nothing_stored_is_refused(gateway: Gateway) -> None:
    owner = await gateway.project()
    hook = "https://example.com/hook"
    created = await gateway.connector(owner, hook)
    before = await snapshot(gateway.db)
    base = f"/v2/projects/{owner.project_id}/dataconnectors"
    for http in ({"signatureSecret": MASK}, {"headers": {"Authorization": MASK}}):
        body = {"httpConfig": {"url": hook, **http}}
        assert_error(await gateway.call("POST", base, owner, expect=400, json=body), 400)
        one = f"/v2/{created['name']}"
        assert_error(await gateway.call("PATCH", one, owner, expect=400, json=body), 400)
    assert await snapshot(gateway.db) == before
