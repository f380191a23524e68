"""SSRF: private targets refused on write and, for literals as well as names, at connect time."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import METRICS, SETTINGS, create_app
from gateway.config import Settings
from gateway.push.post import http_client, post
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
    permissive = http_client(2.0, 4, bundle, public_only=False)
    control = await post(permissive, f"https://127.0.0.1:{port}/control", b"{}", {})
    await permissive.close()
    assert control.ok, "the receiver must be reachable when private targets are allowed"
    session = http_client(2.0, 4, bundle, public_only=True)
    try:
        for host in ("127.0.0.1", "\uff11\uff12\uff17.\uff10.\uff10.\uff11", "[::ffff:127.0.0.1]"):
            result = await post(session, f"https://{host}:{port}/hook", b"{}", {})
            assert not result.ok
            assert result.error is not None
        named = await post(session, f"https://localhost:{port}/hook", b"{}", {})
        assert not named.ok
        assert named.error == "target_refused"
    finally:
        await session.close()
    assert [r.path for r in receiver.received] == ["/control"]


async def test_a_target_refused_now_fails_at_push_time(
    gateway: Gateway, receiver: Receiver, settings: Settings
) -> None:
    """Connectors written while private targets were allowed are refused after a restart
    without it: the push fails as `target_refused`, and nothing goes out."""
    permissive = create_app(configured(settings, allow_insecure_targets=True), clock=gateway.clock)
    async with TestClient(TestServer(permissive)) as client:
        before = Gateway(client, permissive[SETTINGS], gateway.clock, permissive[METRICS])
        account = await before.project()
        for url in (receiver.url("/private"), "http://example.com/clear-text"):
            await before.connector(account, url)
        device = await before.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 2

    assert receiver.received == []
    refused = gateway.metrics.registry.get_sample_value(
        "gateway_push_attempts_total", {"outcome": "target_refused"}
    )
    assert refused == 2
    assert await gateway.db.fetchval("SELECT count(*) FROM deliveries") == 2  # retried later
