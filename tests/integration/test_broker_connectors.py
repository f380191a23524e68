"""Broker connectors through the API: the catalog of types, create and update checked against
its schemas, bad input refused with nothing written, credentials masked for readers."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import disruptive
import jsonschema
import pytest

from gateway.api import auth
from gateway.config import Settings
from tests.harness import Account, Gateway
from tests.integration.helpers import assert_error, snapshot
from tests.integration.support import connector_id, get_connector, patch_connector

AMQP = {"url": "amqps://gw:pa%2Fss@rabbit.example.com/events", "exchange": "dt",
        "routingKey": "{projectId}.{eventType}", "signatureSecret": "s3cret"}  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Private hosts and plain schemes refused, as in production."""
    return replace(settings, allow_insecure_targets=False)


def connectors_path(account: Account) -> str:
    return f"/v2/projects/{account.project_id}/dataconnectors"


async def create(
    gateway: Gateway, account: Account, body: dict[str, Any], expect: int = 200
) -> Any:
    return await gateway.call("POST", connectors_path(account), account, expect, json=body)


async def test_the_catalog_lists_every_type_with_a_sample_its_schema_accepts(
    gateway: Gateway,
) -> None:
    account = await gateway.project(auth.USER)
    catalog = await gateway.call("GET", "/v2/dataconnectortypes", account)
    types = {entry["type"]: entry for entry in catalog["dataConnectorTypes"]}
    assert set(types) == {"HTTP_PUSH", "AMQP", "MQTT", "NATS", "REDIS_STREAM"}
    assert types["REDIS_STREAM"]["configKey"] == "redisConfig"
    for entry in types.values():
        jsonschema.Draft202012Validator.check_schema(entry["configSchema"])
        jsonschema.validate(entry["sampleConfig"], entry["configSchema"])
        assert entry["displayName"]
    await gateway.call("GET", "/v2/dataconnectortypes", None, 401)


async def test_each_types_sample_config_creates_a_connector(gateway: Gateway) -> None:
    account = await gateway.project()
    catalog = await gateway.call("GET", "/v2/dataconnectortypes", account)
    for entry in catalog["dataConnectorTypes"]:
        body = {"type": entry["type"], entry["configKey"]: entry["sampleConfig"]}
        created = await create(gateway, account, body)
        assert created["type"] == entry["type"]
        assert created[entry["configKey"]]["url"] == entry["sampleConfig"]["url"]
        # DT's SDK reads a connector of a type it does not know, without its config.
        parsed = disruptive.DataConnector(created)
        assert parsed.data_connector_type == entry["type"]


BAD_BODIES = {
    "unknown type": {"type": "KAFKA", "kafkaConfig": {"url": "kafka://k.example.com"}},
    "type not a string": {"type": 7, "amqpConfig": AMQP},
    "config key of another type": {"type": "AMQP", "httpConfig": {"url": "https://x.example"}},
    "two config keys": {"type": "AMQP", "amqpConfig": AMQP, "mqttConfig": {"url": "mqtts://m"}},
    "http config for mqtt": {"type": "MQTT", "amqpConfig": AMQP},
    "no config": {"type": "NATS"},
    "bad port": {"type": "AMQP", "amqpConfig": {**AMQP, "url": "amqps://r.example.com:99999/"}},
    "bad host": {"type": "AMQP", "amqpConfig": {**AMQP, "url": "amqps://[::1/"}},
    "no host": {"type": "MQTT", "mqttConfig": {"url": "mqtts://", "topic": "t"}},
    "wrong scheme": {"type": "AMQP", "amqpConfig": {**AMQP, "url": "https://r.example.com/"}},
    "plain scheme": {"type": "AMQP", "amqpConfig": {**AMQP, "url": "amqp://r.example.com/"}},
    "private host": {"type": "AMQP", "amqpConfig": {**AMQP, "url": "amqps://10.1.2.3/"}},
    "loopback": {"type": "REDIS_STREAM", "redisConfig": {"url": "rediss://127.0.0.1",
                                                         "stream": "s"}},
    "local name": {"type": "MQTT", "mqttConfig": {"url": "mqtts://broker.local", "topic": "t"}},
    "unknown placeholder": {"type": "AMQP", "amqpConfig": {**AMQP, "routingKey": "{tenant}.x"}},
    "unmatched brace": {"type": "NATS", "natsConfig": {"url": "tls://n.example.com",
                                                       "subject": "a.{deviceId"}},
    "wildcard topic": {"type": "MQTT", "mqttConfig": {"url": "mqtts://m.example.com",
                                                      "topic": "dt/#"}},
    "wildcard subject": {"type": "NATS", "natsConfig": {"url": "tls://n.example.com",
                                                        "subject": "dt.>"}},
    "missing routing key": {"type": "AMQP", "amqpConfig": {"url": AMQP["url"]}},
    "unknown field": {"type": "AMQP", "amqpConfig": {**AMQP, "queue": "q"}},
    "url query": {"type": "REDIS_STREAM", "redisConfig": {
        "url": "rediss://r.example.com/0?ssl_cert_reqs=none", "stream": "s"}},
    "redis path": {"type": "REDIS_STREAM", "redisConfig": {"url": "rediss://r.example.com/x",
                                                           "stream": "s"}},
    "max length text": {"type": "REDIS_STREAM", "redisConfig": {
        "url": "rediss://r.example.com", "stream": "s", "maxLength": "10"}},
    "max length zero": {"type": "REDIS_STREAM", "redisConfig": {
        "url": "rediss://r.example.com", "stream": "s", "maxLength": 0}},
    "max length bool": {"type": "REDIS_STREAM", "redisConfig": {
        "url": "rediss://r.example.com", "stream": "s", "maxLength": True}},
    "credentials not text": {"type": "NATS", "natsConfig": {
        "url": "tls://n.example.com", "subject": "s", "credentials": 1}},
}  # fmt: skip


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_bad_broker_configs_are_refused_and_nothing_is_created(
    gateway: Gateway, body: dict[str, Any]
) -> None:
    account = await gateway.project()
    before = await snapshot(gateway.db)
    assert_error(await create(gateway, account, body, 400), 400)
    assert await snapshot(gateway.db) == before


async def test_a_type_whose_extra_is_missing_is_refused_naming_the_extra(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await gateway.project()
    monkeypatch.setitem(sys.modules, "aio_pika", None)  # what Python does for a module not there
    answer = await create(gateway, account, {"type": "AMQP", "amqpConfig": AMQP}, 400)
    assert "data-connector-gateway[amqp]" in answer["error"]


async def test_readers_see_broker_credentials_masked_and_editors_see_them(
    gateway: Gateway,
) -> None:
    account = await gateway.project()
    nats_config = {"url": "tls://token123@n.example.com", "subject": "dt.{deviceId}",
                   "credentials": "-----BEGIN NATS USER JWT-----\nabc\n"}  # fmt: skip
    amqp = connector_id(await create(gateway, account, {"type": "AMQP", "amqpConfig": AMQP}))
    nats = connector_id(await create(gateway, account, {"type": "NATS", "natsConfig": nats_config}))
    reader = await gateway.account(account.project_id, auth.USER)

    shown = (await get_connector(gateway, reader, amqp))["amqpConfig"]
    assert shown["url"] == "amqps://gw:********@rabbit.example.com/events"
    assert shown["signatureSecret"] == "********"
    shown = (await get_connector(gateway, reader, nats))["natsConfig"]
    assert shown["url"] == "tls://********@n.example.com"
    assert shown["credentials"] == "********"
    listed = await gateway.call("GET", connectors_path(account), reader)
    assert "pa%2Fss" not in str(listed) and "token123" not in str(listed)

    assert (await get_connector(gateway, account, amqp))["amqpConfig"] == AMQP
    assert (await get_connector(gateway, account, nats))["natsConfig"]["credentials"] != "********"


async def test_patch_merges_the_broker_config_key_by_key(gateway: Gateway) -> None:
    account = await gateway.project()
    connector = connector_id(await create(gateway, account, {"type": "AMQP", "amqpConfig": AMQP}))
    changed = await patch_connector(
        gateway, account, connector, {"amqpConfig": {"routingKey": "{deviceId}"}}
    )
    assert changed["amqpConfig"] == {**AMQP, "routingKey": "{deviceId}"}

    before = await snapshot(gateway.db)
    path = f"{connectors_path(account)}/{connector}"
    body = {"amqpConfig": {"routingKey": "{nope}"}}
    assert_error(await gateway.call("PATCH", path, account, 400, json=body), 400)
    body = {"httpConfig": {"url": "https://x.example.com"}}
    assert_error(await gateway.call("PATCH", path, account, 400, json=body), 400)
    assert await snapshot(gateway.db) == before


async def test_a_connector_may_change_type_with_the_whole_config_of_the_new_one(
    gateway: Gateway,
) -> None:
    account = await gateway.project()
    connector = connector_id(await create(gateway, account, {"type": "AMQP", "amqpConfig": AMQP}))
    mqtt = {"url": "mqtts://m.example.com:8883", "topic": "dt/{deviceId}"}
    body = {"type": "MQTT", "mqttConfig": mqtt}
    changed = await patch_connector(gateway, account, connector, body)
    assert changed["type"] == "MQTT" and "amqpConfig" not in changed
    assert changed["mqttConfig"] == {**mqtt, "signatureSecret": ""}
    back = await patch_connector(
        gateway, account, connector, {"type": "HTTP_PUSH", "httpConfig": {"url": "https://h.example"}}
    )
    assert back["httpConfig"] == {"url": "https://h.example", "signatureSecret": "", "headers": {},
                                  "standardWebhooks": None}


async def test_a_masked_config_sent_back_keeps_the_stored_credentials(gateway: Gateway) -> None:
    account = await gateway.project()
    connector = connector_id(await create(gateway, account, {"type": "AMQP", "amqpConfig": AMQP}))
    reader = await gateway.account(account.project_id, auth.USER)
    shown = (await get_connector(gateway, reader, connector))["amqpConfig"]
    assert shown["url"] != AMQP["url"]
    changed = await patch_connector(
        gateway, account, connector, {"amqpConfig": {**shown, "routingKey": "{deviceId}"}}
    )
    assert changed["amqpConfig"] == {**AMQP, "routingKey": "{deviceId}"}
