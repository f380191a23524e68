"""Failed pushes: retries, Retry-After, timeouts, redirects, refusals, expiry, disabling."""

from __future__ import annotations

import socket

import pytest

from gateway.config import Settings
from gateway.dispatch.maintenance import sweep
from tests.harness import Account, Gateway, configured
from tests.integration.support import (
    connector_id,
    get_connector,
    patch_connector,
    queued,
)
from tests.receiver import Answer, Receiver

PUSH_TIMEOUT = 0.5
DAY = 86400.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, push_timeout=PUSH_TIMEOUT)


def attempts(gateway: Gateway, outcome: str) -> float:
    value = gateway.metrics.registry.get_sample_value(
        "gateway_push_attempts_total", {"outcome": outcome}
    )
    return value or 0.0


def counter(gateway: Gateway, name: str) -> float:
    return gateway.metrics.registry.get_sample_value(f"gateway_{name}_total") or 0.0


async def failing_connector(
    gateway: Gateway, receiver: Receiver, path: str, *answers: Answer
) -> tuple[Account, str, str]:
    """A project with a connector whose endpoint answers `answers`, and one device."""
    account = await gateway.project()
    receiver.script(path, *answers)
    created = await gateway.connector(account, receiver.url(path))
    device = await gateway.device(account)
    return account, connector_id(created), device


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(gateway: Gateway, receiver: Receiver, status: int) -> None:
    account, connector, device = await failing_connector(
        gateway, receiver, "/busy", Answer(status, headers={"Retry-After": "120"}), Answer(200)
    )
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 1
    gateway.clock.advance(119)
    assert await gateway.deliver() == 0  # not due before the time asked for
    gateway.clock.advance(1)
    assert await gateway.deliver() == 1

    assert len(receiver.at("/busy")) == 2
    assert await queued(gateway, connector) == 0


async def test_retry_after_is_bounded_by_retry_max(gateway: Gateway, receiver: Receiver) -> None:
    account, _, device = await failing_connector(
        gateway, receiver, "/busy", Answer(429, headers={"Retry-After": "86400"}), Answer(200)
    )
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 1
    gateway.clock.advance(gateway.settings.retry_max - 1)
    assert await gateway.deliver() == 0
    gateway.clock.advance(1)
    assert await gateway.deliver() == 1


async def test_timeout_is_a_failure_then_retried(gateway: Gateway, receiver: Receiver) -> None:
    account, connector, device = await failing_connector(
        gateway, receiver, "/slow", Answer(200, delay=PUSH_TIMEOUT + 0.5), Answer(200)
    )
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 1
    assert attempts(gateway, "timeout") == 1
    assert await queued(gateway, connector) == 1
    gateway.clock.advance(60)
    assert await gateway.deliver() == 1

    assert attempts(gateway, "success") == 1
    assert await queued(gateway, connector) == 0


async def test_a_redirect_is_a_failure(gateway: Gateway, receiver: Receiver) -> None:
    moved = Answer(302, headers={"Location": receiver.url("/elsewhere")})
    account, connector, device = await failing_connector(gateway, receiver, "/moved", moved)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 1

    assert receiver.at("/elsewhere") == []
    assert attempts(gateway, "http_3xx") == 1
    assert await queued(gateway, connector) == 1


async def test_a_refused_connection_is_a_failure(gateway: Gateway) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = await gateway.project()
    created = await gateway.connector(account, f"https://localhost:{port}/hook")
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 1

    assert attempts(gateway, "connection_error") == 1
    assert await queued(gateway, connector_id(created)) == 1


async def test_a_delivery_failing_past_its_age_is_dropped(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await failing_connector(gateway, receiver, "/down", Answer(500))
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1

    gateway.clock.advance(gateway.settings.delivery_max_age - 60)
    await gateway.deliver()
    assert await queued(gateway, connector) == 1
    pushed = len(receiver.at("/down"))
    gateway.clock.advance(60)
    await gateway.deliver()

    assert len(receiver.at("/down")) == pushed  # not pushed again
    assert await queued(gateway, connector) == 0
    assert counter(gateway, "deliveries_expired") == 1


async def test_the_sweep_drops_expired_deliveries(gateway: Gateway, receiver: Receiver) -> None:
    account, connector, device = await failing_connector(gateway, receiver, "/down", Answer(500))
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    await gateway.publish(account, device, {"temperature": {"value": 2}})
    assert await gateway.deliver() == 2

    gateway.clock.advance(gateway.settings.delivery_max_age)
    await sweep(gateway.db, gateway.settings, gateway.metrics, gateway.clock)

    assert await queued(gateway, connector) == 0
    assert counter(gateway, "deliveries_expired") == 2


async def test_auto_disable_after_days_without_success(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await failing_connector(gateway, receiver, "/down", Answer(500))
    for _ in range(5):
        await gateway.publish(account, device, {"temperature": {"value": 1}})
        assert await gateway.deliver() >= 1
        assert (await get_connector(gateway, account, connector))["status"] == "ACTIVE"
        gateway.clock.advance(DAY)
    await gateway.publish(account, device, {"temperature": {"value": 2}})
    await gateway.deliver()

    assert (await get_connector(gateway, account, connector))["status"] == "SYSTEM_DISABLED"
    assert await queued(gateway, connector) == 0
    assert counter(gateway, "connectors_auto_disabled") == 1

    missed = await gateway.publish(account, device, {"temperature": {"value": 3}})
    assert await queued(gateway, connector) == 0
    receiver.script("/down", Answer(200))
    enabled = await patch_connector(gateway, account, connector, {"status": "ACTIVE"})
    assert enabled["status"] == "ACTIVE"
    before = len(receiver.at("/down"))
    assert await gateway.deliver() == 0  # no backfill
    fresh = await gateway.publish(account, device, {"temperature": {"value": 4}})
    assert await gateway.deliver() == 1

    arrived = [r.event_id for r in receiver.at("/down")[before:]]
    assert arrived == [fresh["eventId"]]
    assert missed["eventId"] not in arrived


@pytest.mark.parametrize("action", ["disable", "delete"])
async def test_disabling_or_deleting_drops_the_queue(
    gateway: Gateway, receiver: Receiver, action: str
) -> None:
    account, connector, device = await failing_connector(gateway, receiver, "/down", Answer(500))
    for value in range(3):
        await gateway.publish(account, device, {"temperature": {"value": value}})
    await gateway.deliver()
    assert await queued(gateway, connector) == 3

    if action == "disable":
        await patch_connector(gateway, account, connector, {"status": "USER_DISABLED"})
    else:
        path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}"
        assert await gateway.call("DELETE", path, account) == {}
    await gateway.publish(account, device, {"temperature": {"value": 9}})
    pushed = len(receiver.at("/down"))
    gateway.clock.advance(DAY)

    assert await queued(gateway, connector) == 0
    assert await gateway.deliver() == 0
    assert len(receiver.at("/down")) == pushed


async def test_new_events_wait_for_a_failing_connectors_retry(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await failing_connector(
        gateway, receiver, "/down", Answer(500), Answer(200)
    )
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1

    await gateway.publish(account, device, {"temperature": {"value": 2}})
    assert await gateway.deliver() == 0  # the connector's whole queue waits for its retry

    gateway.clock.advance(gateway.settings.retry_base * 1.2 + 1)
    assert await gateway.deliver() == 2
    assert await queued(gateway, connector) == 0


async def test_a_failing_connector_is_retried_one_push_at_a_time(
    gateway: Gateway, receiver: Receiver
) -> None:
    """After a failure, a retry sends one probe; the rest follow only once it succeeds."""
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/down"))
    receiver.script("/down", Answer(500))
    device = await gateway.device(account)
    for value in range(20):
        await gateway.publish(account, device, {"temperature": {"value": value}})

    await gateway.deliver()
    first_round = len(receiver.at("/down"))
    assert 1 <= first_round <= gateway.settings.connector_concurrency  # a lane, at most

    gateway.clock.advance(3600)
    await gateway.deliver()
    assert len(receiver.at("/down")) == first_round + 1  # a single probe

    receiver.script("/down", Answer(200))
    gateway.clock.advance(3600)
    await gateway.deliver()
    delivered = {r.event_id for r in receiver.at("/down")[first_round + 1:]}
    assert len(delivered) == 20 and await queued(gateway) == 0
