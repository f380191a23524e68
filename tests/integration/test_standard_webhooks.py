"""Standard Webhooks pushes, verified by the `standardwebhooks` library, before, during and
after a rotation with overlap; bad input refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.api import auth
from gateway.push.standard_webhooks import new_secret
from tests.harness import Account, Gateway
from tests.integration.support import connector_id
from tests.receiver import Received, Receiver


def verified(push: Received, secret: str, gateway: Gateway) -> Any:
    with time_machine.travel(gateway.clock(), tick=False):  # the receiver's clock at the push
        return Webhook(secret).verify(push.body, dict(push.headers))


async def push_one(gateway: Gateway, account: Account, path: str, receiver: Receiver) -> Received:
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1
    return receiver.at(path)[-1]


def rotate_path(account: Account, connector: str) -> str:
    return f"/v2/projects/{account.project_id}/dataconnectors/{connector}:rotateSecret"


async def test_a_generated_secret_is_shown_once_and_signs_pushes(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"standardWebhooks": {"secret": "generate"}}
    )
    secret = created["httpConfig"]["standardWebhooks"]["secret"]
    assert secret.startswith("whsec_")
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector_id(created)}"
    shown = await gateway.call("GET", path, account)
    assert shown["httpConfig"]["standardWebhooks"] == {
        "secret": "********", "previousSecretExpireTime": ""
    }

    push = await push_one(gateway, account, "/hook", receiver)

    assert verified(push, secret, gateway)["event"]["eventId"] == push.event_id
    assert push.headers["webhook-id"] == push.event_id
    assert push.headers["webhook-timestamp"] == str(int(gateway.clock().timestamp()))
    with pytest.raises(WebhookVerificationError):
        verified(Received(push.path, push.headers, push.body + b" "), secret, gateway)


async def test_rotation_signs_with_both_during_the_overlap_then_the_new_one_only(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    old = new_secret()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"standardWebhooks": {"secret": old}}
    )
    before = await push_one(gateway, account, "/hook", receiver)
    assert verified(before, old, gateway)

    answer = await gateway.call(
        "POST", rotate_path(account, connector_id(created)), account, json={"overlap": "3600s"}
    )
    new = answer["standardWebhooks"]["secret"]
    assert new.startswith("whsec_") and new != old
    assert "cannot overlap" in answer["signatureSecret"]
    during = await push_one(gateway, account, "/hook", receiver)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(during, old, gateway) and verified(during, new, gateway)

    gateway.clock.advance(3601)
    after = await push_one(gateway, account, "/hook", receiver)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verified(after, new, gateway)
    with pytest.raises(WebhookVerificationError):
        verified(after, old, gateway)


async def test_a_zero_overlap_drops_the_old_secret_at_once(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    old = new_secret()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"standardWebhooks": {"secret": old}}
    )
    answer = await gateway.call(
        "POST", rotate_path(account, connector_id(created)), account, json={"overlap": "0s"}
    )
    push = await push_one(gateway, account, "/hook", receiver)
    assert verified(push, answer["standardWebhooks"]["secret"], gateway)
    with pytest.raises(WebhookVerificationError):
        verified(push, old, gateway)


async def stored(gateway: Gateway, connector: str) -> Any:
    return await gateway.db.fetchval(
        "SELECT sealed_secrets FROM connectors WHERE id = $1", connector
    )


@pytest.mark.parametrize("secret", [
    "c2VjcmV0LXdpdGhvdXQtdGhlLXByZWZpeC0xMjM0NTY=",  # no whsec_ prefix
    "whsec_c2hvcnQ=",  # 5 bytes
    "whsec_" + "QUFB" * 30,  # 90 bytes
    "whsec_not base64!!",
    "whsec_",
    12345,
])
async def test_bad_secrets_are_refused_and_nothing_changes(
    gateway: Gateway, receiver: Receiver, secret: Any
) -> None:
    account = await gateway.project()
    good = new_secret()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"standardWebhooks": {"secret": good}}
    )
    connector = connector_id(created)
    kept = await stored(gateway, connector)
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}"
    error = await gateway.call(
        "PATCH", path, account, expect=400,
        json={"httpConfig": {"standardWebhooks": {"secret": secret}}},
    )
    assert set(error) == {"error", "code", "help"}
    await gateway.call(
        "POST", rotate_path(account, connector), account, expect=400, json={"secret": secret}
    )
    await gateway.call(
        "POST", f"/v2/projects/{account.project_id}/dataconnectors", account, expect=400,
        json={"httpConfig": {"url": receiver.url("/x"), "standardWebhooks": {"secret": secret}}},
    )
    assert await stored(gateway, connector) == kept


@pytest.mark.parametrize("overlap", ["604801s", "-1s", "1d", "86400", 86400, "", "1e3s"])
async def test_an_overlap_out_of_range_is_refused(
    gateway: Gateway, receiver: Receiver, overlap: Any
) -> None:
    account = await gateway.project()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"standardWebhooks": {"secret": "generate"}}
    )
    kept = await stored(gateway, connector_id(created))
    await gateway.call(
        "POST", rotate_path(account, connector_id(created)), account, expect=400,
        json={"overlap": overlap},
    )
    assert await stored(gateway, connector_id(created)) == kept


async def test_rotating_without_a_standard_webhooks_secret_is_refused(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/hook"))
    error = await gateway.call(
        "POST", rotate_path(account, connector_id(created)), account, expect=400
    )
    assert "no httpConfig.standardWebhooks secret" in error["error"]
    assert await stored(gateway, connector_id(created)) is None


async def test_users_never_see_the_secret_and_may_not_rotate(
    gateway: Gateway, receiver: Receiver
) -> None:
    developer = await gateway.project()
    created = await gateway.connector(
        developer, receiver.url("/hook"), http={"standardWebhooks": {"secret": "generate"}}
    )
    user = await gateway.account(developer.project_id, auth.USER)
    path = f"/v2/projects/{developer.project_id}/dataconnectors/{connector_id(created)}"
    shown = await gateway.call("GET", path, user)
    assert shown["httpConfig"]["standardWebhooks"]["secret"] == "********"
    await gateway.call("POST", path + ":rotateSecret", user, expect=403)


async def test_the_masked_value_read_back_keeps_the_secret_and_null_turns_it_off(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"standardWebhooks": {"secret": "generate"}}
    )
    secret = created["httpConfig"]["standardWebhooks"]["secret"]
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector_id(created)}"
    shown = await gateway.call("GET", path, account)
    await gateway.call("PATCH", path, account, json={"httpConfig": shown["httpConfig"]})
    push = await push_one(gateway, account, "/hook", receiver)
    assert verified(push, secret, gateway)

    off = await gateway.call(
        "PATCH", path, account, json={"httpConfig": {"standardWebhooks": None}}
    )
    assert off["httpConfig"]["standardWebhooks"] is None
    push = await push_one(gateway, account, "/hook", receiver)
    assert "webhook-signature" not in push.headers
