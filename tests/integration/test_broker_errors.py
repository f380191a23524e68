"""What a broker says when it refuses a message is a failed delivery, kept for a retry and
visible with the broker's own words; it never counts as delivered."""

from __future__ import annotations

import socket
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import redis.asyncio as redis
import structlog

from gateway.model import Connector
from gateway.push.addresses import is_public_address
from gateway.push.post import http_client
from gateway.push.senders import Message, Options, Senders
from tests.harness import Gateway
from tests.integration.brokers import RABBITMQ, mosquitto_process, running, unique
from tests.integration.destinations import AmqpDestination, NatsDestination, RedisDestination
from tests.integration.support import connector_id, queued


async def failures_of(gateway: Gateway, type_: str, key: str, config: dict[str, Any]) -> Any:
    """Create a connector, publish one event, deliver; return the failure logged for it."""
    account = await gateway.project()
    device = await gateway.device(account, "touch")
    created = await gateway.call(
        "POST", f"/v2/projects/{account.project_id}/dataconnectors", account,
        json={"type": type_, key: config},
    )  # fmt: skip
    await gateway.publish(account, device, {"touch": {}})
    with structlog.testing.capture_logs() as logs:
        await gateway.deliver()
    assert await queued(gateway, connector_id(created)) == 1  # kept for its retry
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector_id(created)}:metrics"
    counts = (await gateway.call("GET", path, account))["metrics"]
    assert (counts["successCount"], counts["errorCount"]) == (0, 1)
    [failure] = [entry for entry in logs if entry["event"] == "push_failed"]
    # The delivery log shows the broker's words too.
    entries = (await gateway.call("GET", path.replace(":metrics", "/deliveries"), account))
    [attempt] = entries["deliveries"][0]["attempts"]
    assert attempt["error"] == f"{failure['error']}: {failure['message']}"
    return failure


async def test_amqp_a_missing_exchange_and_an_unroutable_message_are_failures(
    tmp_path: Path, gateway: Gateway
) -> None:
    destination = AmqpDestination(tmp_path)
    await destination.open()
    try:
        config = {**destination.config(), "exchange": unique("missing-")}
        failure = await failures_of(gateway, "AMQP", "amqpConfig", config)
        assert failure["error"] == "broker_error" and "NOT_FOUND" in failure["message"]
        assert "guest:guest" not in failure["message"]

        connection = await aio_pika.connect(f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/")
        async with connection:
            lonely = unique("unbound-")
            await (await connection.channel()).declare_exchange(lonely, auto_delete=False)
            config = {**destination.config(), "exchange": lonely}
            failure = await failures_of(gateway, "AMQP", "amqpConfig", config)
            assert failure["error"] == "broker_refused" and "returned" in failure["message"]
            await (await connection.channel()).exchange_delete(lonely)

        # The closed channel of the missing exchange did not take the broker's others with it.
        account = await gateway.project()
        device = await gateway.device(account, "touch")
        body = {"type": "AMQP", "amqpConfig": destination.config()}
        await gateway.call("POST", f"/v2/projects/{account.project_id}/dataconnectors", account,
                           json=body)  # fmt: skip
        await gateway.publish(account, device, {"touch": {}})
        await gateway.deliver()
        assert len(await destination.messages(1)) == 1
    finally:
        await destination.close()


async def test_mqtt_a_puback_that_refuses_is_a_failure(tmp_path: Path, gateway: Gateway) -> None:
    broker = mosquitto_process(tmp_path, acl="topic write allowed/#\n")
    async with running(broker):
        config = {"url": f"mqtt://127.0.0.1:{broker.port}", "topic": "denied/{deviceId}"}
        failure = await failures_of(gateway, "MQTT", "mqttConfig", config)
    assert failure["error"] == "broker_refused" and "Not authorized" in failure["message"]


async def test_nats_a_subject_no_stream_captures_is_a_failure(
    tmp_path: Path, gateway: Gateway
) -> None:
    destination = NatsDestination(tmp_path)
    await destination.open()
    try:
        config = {**destination.config(), "subject": "nobody.listens.{deviceId}"}
        failure = await failures_of(gateway, "NATS", "natsConfig", config)
        assert failure["error"] == "broker_refused" and "no JetStream stream" in failure["message"]
    finally:
        await destination.close()


async def test_redis_a_key_of_another_type_is_a_failure(tmp_path: Path, gateway: Gateway) -> None:
    destination = RedisDestination(tmp_path)
    await destination.open()
    try:
        client = redis.Redis(port=destination.broker.port)
        await client.set("not-a-stream", "x")
        await client.aclose()
        config = {**destination.config(), "stream": "not-a-stream"}
        failure = await failures_of(gateway, "REDIS_STREAM", "redisConfig", config)
        assert failure["error"] == "broker_error" and "WRONGTYPE" in failure["message"]
    finally:
        await destination.close()


BROKER_URLS = {
    "AMQP": ("amqp://guest:guest@{host}:5672/", {"exchange": "", "routingKey": "q"}),
    "MQTT": ("mqtt://{host}:1883", {"topic": "t"}),
    "NATS": ("nats://{host}:4222", {"subject": "s"}),
    "REDIS_STREAM": ("redis://{host}:6379/0", {"stream": "s"}),
}


@pytest.mark.parametrize("type_", sorted(BROKER_URLS))
async def test_a_broker_name_that_resolves_to_a_private_address_is_refused_before_connecting(
    type_: str,
) -> None:
    host = socket.gethostname()  # a name that is not local by its form, resolved by the system
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        pytest.skip(f"this machine's name {host!r} does not resolve")
    if any(is_public_address(ip_address(address)) for address in addresses):
        pytest.skip(f"this machine's name {host!r} resolves to a public address")
    url, config = BROKER_URLS[type_]
    connector = Connector("p", "c", type=type_, url=url.format(host=host), config=config)
    message = Message(b"{}", {}, "p", "d", "touch", "e", 1)
    client = http_client(2.0, 4, None, public_only=True)
    senders = Senders(client, Options(timeout=2.0, public_only=True, ca_bundle=None))
    result = await senders.send(connector, message)
    await senders.close()
    await client.close()
    assert not result.ok
    assert result.error == "target_refused", result
