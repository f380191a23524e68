"""Connectors that publish to real brokers keep every promise of an HTTP connector: the exact
body, a signature that verifies, the event filter and labels, retries while the broker is down,
:sync and :metrics."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
import pytest_asyncio

from tests.harness import Account, Gateway
from tests.integration.destinations import DESTINATIONS, Destination
from tests.integration.support import connector_id, queued
from tests.receiver import Receiver

SECRET = "broker-signature-secret-0123456789"


@pytest_asyncio.fixture(params=sorted(DESTINATIONS))
async def destination(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Destination]:
    made = DESTINATIONS[request.param](tmp_path)
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def broker_connector(
    gateway: Gateway, account: Account, destination: Destination, **fields: Any
) -> str:
    config = {**destination.config(), "signatureSecret": SECRET}
    created = await gateway.call(
        "POST",
        f"/v2/projects/{account.project_id}/dataconnectors",
        account,
        json={"type": destination.type, destination.config_key: config, **fields},
    )
    assert created["type"] == destination.type
    return connector_id(created)


async def metrics(gateway: Gateway, account: Account, connector: str) -> dict[str, Any]:
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}:metrics"
    return (await gateway.call("GET", path, account))["metrics"]  # type: ignore[no-any-return]


async def test_the_message_carries_the_http_body_and_a_signature_that_verifies(
    destination: Destination, gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    device = await gateway.device(account, "temperature", room="a1", floor="3")
    await gateway.connector(
        account, receiver.url("/hook"), labels=["room"], http={"signatureSecret": SECRET}
    )
    await broker_connector(gateway, account, destination, labels=["room"])
    await gateway.publish(account, device, {"temperature": {"value": 21.5}})
    await gateway.deliver()

    [pushed] = receiver.at("/hook")
    [message] = await destination.messages(1)
    assert message.body == pushed.body  # the same bytes as the HTTP push
    assert message.address == destination.address(account.project_id, device, "temperature")
    # DT's receiver recipe, applied to the message's header and body.
    claims = jwt.decode(message.headers["X-Dt-Signature"], SECRET, algorithms=["HS256"])
    assert claims["checksum_sha256"] == hashlib.sha256(message.body).hexdigest()
    assert claims["checksum"] == hashlib.sha1(message.body).hexdigest()
    assert orjson.loads(message.body)["labels"] == {"room": "a1"}


async def test_the_event_filter_and_labels_apply(
    destination: Destination, gateway: Gateway
) -> None:
    account = await gateway.project()
    device = await gateway.device(account, "temperature", room="b2", floor="1")
    await broker_connector(
        gateway, account, destination, events=["temperature"], labels=["floor", "missing"]
    )
    await gateway.publish(account, device, {"touch": {}})
    await gateway.publish(account, device, {"temperature": {"value": 3.0}})
    await gateway.deliver()

    [message] = await destination.messages(1)
    sent = orjson.loads(message.body)
    assert sent["event"]["eventType"] == "temperature"
    assert sent["labels"] == {"floor": "1"}
    assert sent["metadata"]["deviceId"] == device


async def test_a_broker_that_is_down_gets_retries_and_the_delivery_arrives_when_it_is_back(
    destination: Destination, gateway: Gateway
) -> None:
    account = await gateway.project()
    device = await gateway.device(account, "touch")
    connector = await broker_connector(gateway, account, destination)
    await destination.stop_broker()
    published = await gateway.publish(account, device, {"touch": {}})

    await gateway.deliver()
    gateway.clock.advance(gateway.settings.retry_max)
    await gateway.deliver()  # still down: a second failed attempt
    assert await queued(gateway, connector) == 1
    assert (await metrics(gateway, account, connector))["errorCount"] == 2

    await destination.start_broker()
    gateway.clock.advance(gateway.settings.retry_max)
    await gateway.deliver()
    assert await queued(gateway, connector) == 0
    [message] = await destination.messages(1)
    assert orjson.loads(message.body)["event"]["eventId"] == published["eventId"]
    assert (await metrics(gateway, account, connector))["successCount"] == 1


async def test_sync_publishes_each_devices_latest_events_again(
    destination: Destination, gateway: Gateway
) -> None:
    account = await gateway.project()
    device = await gateway.device(account, "temperature")
    connector = await broker_connector(gateway, account, destination)
    first = await gateway.publish(account, device, {"temperature": {"value": 1.0}})
    latest = await gateway.publish(account, device, {"temperature": {"value": 2.0}})
    touch = await gateway.publish(account, device, {"touch": {}})
    await gateway.deliver()
    assert len(await destination.messages(3)) == 3

    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}:sync"
    assert await gateway.call("POST", path, account) == {}
    await gateway.deliver()
    sent = Counter(orjson.loads(m.body)["event"]["eventId"] for m in await destination.messages(5))
    assert sent == Counter({first["eventId"]: 1, latest["eventId"]: 2, touch["eventId"]: 2})


async def test_test_publishes_a_signed_sample_to_the_broker_and_logs_it(
    destination: Destination, gateway: Gateway
) -> None:
    account = await gateway.project()
    connector = await broker_connector(gateway, account, destination)
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}"
    answer = await gateway.call("POST", path + ":test", account)
    assert answer["error"] == "", answer
    [message] = await destination.messages(1)
    claims = jwt.decode(message.headers["X-Dt-Signature"], SECRET, algorithms=["HS256"])
    assert claims["checksum_sha256"] == hashlib.sha256(message.body).hexdigest()
    entries = (await gateway.call("GET", path + "/deliveries", account))["deliveries"]
    assert [(entry["test"], entry["status"]) for entry in entries] == [(True, "DELIVERED")]
