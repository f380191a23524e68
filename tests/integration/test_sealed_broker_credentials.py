"""Broker credentials at rest: a dump holds no password, token or NATS credentials in clear after
a create or a PATCH; credentials written in clear are sealed at start and still deliver; a new
password starts a fresh failure record; re-sealing under a new key keeps them working."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt

from gateway.store import connectors, secrets
from gateway.store.crypto import SecretBox, new_key, parse_keys
from tests.harness import TEST_SECRET_KEY, Account, Gateway
from tests.integration.destinations import AmqpDestination
from tests.integration.support import (
    connector_id,
    dump,
    get_connector,
    patch_connector,
    restarted,
)

CREDS = "\n".join((
    "-----BEGIN NATS USER JWT-----", "eyJ0eXAiOiJKV1QifQ.user-jwt-5", "------END USER JWT------",
    "-----BEGIN USER NKEY SEED-----", "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQY", "",
))
NATS_URL = "tls://nats-token-3@nats.example.com"
BROKERS = {
    "AMQP": ("amqpConfig", {"url": "amqps://gw:amqp-pass-1@rabbit.example.com/events",
                            "routingKey": "{deviceId}"}),
    "MQTT": ("mqttConfig", {"url": "mqtts://dev:mqtt-pass-2@mqtt.example.com", "topic": "t"}),
    "NATS": ("natsConfig", {"url": NATS_URL, "subject": "s", "credentials": CREDS}),
    "REDIS_STREAM": ("redisConfig", {"url": "rediss://default:redis-pass-4@redis.example.com/0",
                                     "stream": "s"}),
}  # fmt: skip
IN_CLEAR = ("amqp-pass-1", "mqtt-pass-2", "nats-token-3", "redis-pass-4", "user-jwt-5", "SUACSSL3")
SECRET = "broker-signature-secret-0123456789"
LEGACY_SECRET = "signature-secret-from-before-sealing"


async def create(gateway: Gateway, account: Account, kind: str, config: dict[str, Any]) -> str:
    body = {"type": kind, BROKERS[kind][0]: config}
    path = f"/v2/projects/{account.project_id}/dataconnectors"
    return connector_id(await gateway.call("POST", path, account, json=body))


@contextlib.asynccontextmanager
async def rabbitmq(tmp_path: Path) -> AsyncIterator[AmqpDestination]:
    """The machine's RabbitMQ, reached as guest:guest (a password in the connector's URL)."""
    destination = AmqpDestination(tmp_path)
    await destination.open()
    try:
        yield destination
    finally:
        await destination.close()


async def test_a_dump_holds_no_broker_credential_after_create_or_patch(gateway: Gateway) -> None:
    account = await gateway.project()
    made = {kind: await create(gateway, account, kind, config) for kind, (_, config) in
            BROKERS.items()}  # fmt: skip
    tables = await dump(gateway)
    for clear in IN_CLEAR:
        assert clear not in tables
    # The table still says where each connector publishes, and as whom.
    assert "amqps://gw:********@rabbit.example.com/events" in tables
    assert "tls://********@nats.example.com" in tables

    amqp = {"url": "amqps://gw:amqp-pass-6@rabbit.example.com/events"}
    nats = {"url": "tls://nats-token-7@nats.example.com", "credentials": "user-jwt-8"}
    await patch_connector(gateway, account, made["AMQP"], {"amqpConfig": amqp})
    await patch_connector(gateway, account, made["NATS"], {"natsConfig": nats})
    tables = await dump(gateway)
    for clear in (*IN_CLEAR, "amqp-pass-6", "nats-token-7", "user-jwt-8"):
        assert clear not in tables
    # Its owner reads every credential back, as before they were sealed.
    assert (await get_connector(gateway, account, made["AMQP"]))["amqpConfig"]["url"] == amqp["url"]
    shown = (await get_connector(gateway, account, made["NATS"]))["natsConfig"]
    assert (shown["url"], shown["credentials"]) == (nats["url"], nats["credentials"])


async def test_broker_credentials_stored_in_clear_are_sealed_at_start_and_still_deliver(
    gateway: Gateway, tmp_path: Path
) -> None:
    async with rabbitmq(tmp_path) as broker:
        account, elsewhere = await gateway.project(), await gateway.project()
        amqp_url = broker.config()["url"]
        amqp = await create(gateway, account, "AMQP", broker.config())
        nats_config = {**BROKERS["NATS"][1], "signatureSecret": SECRET}
        nats = await create(gateway, elsewhere, "NATS", nats_config)
        # As a gateway from before broker credentials were sealed left them: the AMQP password
        # and a signature secret in clear, the NATS token and credentials beside a sealed secret.
        await gateway.db.execute(
            "UPDATE connectors SET url = $2, signature_secret = $3, sealed_secrets = NULL"
            " WHERE id = $1", amqp, amqp_url, LEGACY_SECRET,
        )  # fmt: skip
        await gateway.db.execute(
            "UPDATE connectors SET url = $2, config = config || $3 WHERE id = $1",
            nats, NATS_URL, {"credentials": CREDS},
        )  # fmt: skip

        async with restarted(gateway) as started:
            rows = {row["id"]: row for row in await started.db.fetch("SELECT * FROM connectors")}
            assert rows[amqp]["url"] == amqp_url.replace("guest:guest@", "guest:********@")
            assert rows[amqp]["signature_secret"] == "" and rows[amqp]["sealed_secrets"]
            assert rows[nats]["url"] == "tls://********@nats.example.com"
            assert "credentials" not in rows[nats]["config"]
            found = await connectors.get(started.db, started.box, elsewhere.project_id, nats)
            assert found is not None
            assert (found.url, found.config["credentials"], found.signature_secret) == (
                NATS_URL, CREDS, SECRET
            )
            async with started.db.acquire() as connection:
                assert await secrets.seal_plain_secrets(connection, started.box) == 0

            device = await started.device(account)
            await started.publish(account, device, {"temperature": {"value": 2.5}})
            assert await started.deliver() == 1
            [message] = await broker.messages(1)
            jwt.decode(message.headers["X-Dt-Signature"], LEGACY_SECRET, algorithms=["HS256"])


async def test_a_new_password_or_credentials_start_a_fresh_failure_record(
    gateway: Gateway,
) -> None:
    account = await gateway.project()
    amqp = await create(gateway, account, "AMQP", BROKERS["AMQP"][1])
    nats = await create(gateway, account, "NATS", BROKERS["NATS"][1])
    new_password = {"amqpConfig": {"url": "amqps://gw:amqp-pass-9@rabbit.example.com/events"}}
    changes = ((amqp, {"displayName": "same place"}, 5), (amqp, new_password, 0),
               (nats, {"natsConfig": {"credentials": "user-jwt-10"}}, 0))  # fmt: skip
    for connector, change, streak in changes:
        await gateway.db.execute(
            "UPDATE connectors SET failing_since = $2, failure_streak = 5 WHERE id = $1",
            connector, gateway.clock(),
        )  # fmt: skip
        await patch_connector(gateway, account, connector, change)
        query = "SELECT failure_streak FROM connectors WHERE id = $1"
        assert await gateway.db.fetchval(query, connector) == streak, change


async def test_re_sealing_under_a_new_key_keeps_broker_credentials_working(
    gateway: Gateway, tmp_path: Path
) -> None:
    async with rabbitmq(tmp_path) as broker:
        account, elsewhere = await gateway.project(), await gateway.project()
        await create(gateway, account, "AMQP", broker.config())
        nats = await create(gateway, elsewhere, "NATS", BROKERS["NATS"][1])
        fresh = new_key()
        both = SecretBox(parse_keys(f"{fresh},{TEST_SECRET_KEY}", "test"))
        counts = await secrets.reseal_all(gateway.db, both)
        assert counts == {"connectors": 2, "signingKeys": 1}

        async with restarted(gateway, secret_key=fresh) as moved:  # the old key is gone
            found = await connectors.get(moved.db, moved.box, elsewhere.project_id, nats)
            assert found is not None
            assert (found.url, found.config["credentials"]) == (NATS_URL, CREDS)
            device = await moved.device(account)
            await moved.publish(account, device, {"touch": {}})
            assert await moved.deliver() == 1
            assert len(await broker.messages(1)) == 1
