"""SSRF: private targets refused on write and, for literals as well as names, at connect time."""

from __future__ import annotations

import pytest

from gateway.config import Settings
from gateway.push.post import client_session, post
from tests import receiver as receivers
from tests.harness import Gateway, configured
from tests.receiver import Receiver
from tests.unit.test_addresses import UNICODE_LOOPBACKS


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, allow_insecure_targets=False)


@pytest.mark.parametrize("url", UNICODE_LOOPBACKS[:3])
async def test_unicode_loopback_urls_are_refused_on_create_and_patch(
    gateway: Gateway, url: str
) -> None:
    account = await gateway.project()
    base = f"/v2/projects/{account.project_id}/dataconnectors"
    answer = await gateway.call("POST", base, account, 400, json={"httpConfig": {"url": url}})
    assert "public address" in answer["error"]
    created = await gateway.connector(account, "https://example.com/hook")
    path = f"/v2/{created['name']}"
    await gateway.call("PATCH", path, account, 400, json={"httpConfig": {"url": url}})
    stored = await gateway.call("GET", path, account)
    assert stored["httpConfig"]["url"] == "https://example.com/hook"


async def test_a_push_to_an_ip_literal_is_refused_at_connect_time(
    receiver: Receiver, test_ca: receivers.TestCA
) -> None:
    port = receiver.base_url.rsplit(":", 1)[1]
    bundle = str(test_ca.bundle)
    async with client_session(2.0, 4, bundle, public_only=False) as session:
        control = await post(session, f"https://127.0.0.1:{port}/control", b"{}", {})
    assert control.ok, "the receiver must be reachable when private targets are allowed"
    async with client_session(2.0, 4, bundle, public_only=True) as session:
        for host in ("127.0.0.1", "\uff11\uff12\uff17.\uff10.\uff10.\uff11", "[::ffff:127.0.0.1]"):
            result = await post(session, f"https://{host}:{port}/hook", b"{}", {})
            assert not result.ok
            assert result.error is not None
        named = await post(session, f"https://localhost:{port}/hook", b"{}", {})
        assert not named.ok
    assert [r.path for r in receiver.received] == ["/control"]
