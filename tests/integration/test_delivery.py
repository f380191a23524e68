"""Publish → event bus → signed pushes to a real HTTPS receiver, driven until idle."""

from __future__ import annotations

import asyncio
import hashlib

import jwt
import orjson
import time_machine

from tests.harness import Gateway
from tests.integration.support import (
    black_hole,
    connector_id,
    eventually,
    payload,
    publish_batch,
    queued,
    relabel,
)
from tests.receiver import Answer, Receiver

SECRET = "a-signature-secret-of-reasonable-length"


async def test_push_is_signed_over_the_exact_body(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), http={"signatureSecret": SECRET})
    device = await gateway.device(account, "temperature", name="fridge")
    event = await gateway.publish(account, device, {"temperature": {"value": 4.5}})

    assert await gateway.deliver() == 1

    [push] = receiver.at("/hook")
    claims = jwt.decode(push.headers["X-Dt-Signature"], SECRET, algorithms=["HS256"])
    assert hashlib.sha1(push.body).hexdigest() == claims["checksum"]
    assert hashlib.sha256(push.body).hexdigest() == claims["checksum_sha256"]
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["jti"] != event["eventId"]
    assert payload(push)["event"] == event
    assert payload(push)["labels"] == {}
    assert list(payload(push)) == ["event", "labels", "metadata"]


async def test_retry_after_500_then_success(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/flaky"))
    receiver.script("/flaky", Answer(500), Answer(200))
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    assert await gateway.deliver() == 1
    assert await gateway.deliver() == 0  # the retry is not due yet
    gateway.clock.advance(60)
    assert await gateway.deliver() == 1
    first, second = receiver.at("/flaky")
    assert first.event_id == second.event_id


async def test_event_type_filter(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/touch"), events=["touch"])
    await gateway.connector(account, receiver.url("/all"), events=[])
    device = await gateway.device(account, "touch")
    touch = await gateway.publish(account, device, {"touch": {}})
    temperature = await gateway.publish(account, device, {"temperature": {"value": 20}})

    assert await gateway.deliver() == 3

    assert [r.event_id for r in receiver.at("/touch")] == [touch["eventId"]]
    assert {r.event_id for r in receiver.at("/all")} == {touch["eventId"], temperature["eventId"]}


async def test_only_the_labels_a_connector_names(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/named"), labels=["name", "floor"])
    await gateway.connector(account, receiver.url("/none"))
    labelled = await gateway.device(account, name="fridge", floor="2", room="kitchen")
    bare = await gateway.device(account)
    await gateway.publish(account, labelled, {"temperature": {"value": 4}})
    await gateway.publish(account, bare, {"temperature": {"value": 5}})

    assert await gateway.deliver() == 4

    pushes = [payload(r) for r in receiver.at("/named")]
    labels = {push["metadata"]["deviceId"]: push["labels"] for push in pushes}
    assert labels == {labelled: {"name": "fridge", "floor": "2"}, bare: {}}
    assert [payload(r)["labels"] for r in receiver.at("/none")] == [{}, {}]


async def test_labels_are_those_at_publish_time(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), labels=["name"], events=["touch"])
    device = await gateway.device(account, "touch", name="before")
    first = await gateway.publish(account, device, {"touch": {}})
    await relabel(gateway, account, [device], add={"name": "after"})
    second = await gateway.publish(account, device, {"touch": {}})

    assert await gateway.deliver() == 2

    labels = {r.event_id: payload(r)["labels"] for r in receiver.at("/hook")}
    assert labels == {first["eventId"]: {"name": "before"}, second["eventId"]: {"name": "after"}}


async def test_custom_headers_and_content_type(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    headers = {"x-api-key": "abc", "Authorization": "Bearer token"}
    await gateway.connector(account, receiver.url("/hook"), http={"headers": headers})
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    await gateway.deliver()

    [push] = receiver.at("/hook")
    assert push.headers["Content-Type"] == "application/json"
    assert push.headers["X-Api-Key"] == "abc"
    assert push.headers["Authorization"] == "Bearer token"


async def test_no_signature_header_without_a_secret(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), http={"signatureSecret": ""})
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    await gateway.deliver()

    [push] = receiver.at("/hook")
    assert "X-Dt-Signature" not in push.headers


async def test_every_attempt_is_signed_afresh(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), http={"signatureSecret": SECRET})
    receiver.script("/hook", Answer(500), Answer(200))
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})

    moments = []
    for _ in range(2):
        moments.append(gateway.clock())
        assert await gateway.deliver() == 1
        gateway.clock.advance(3600)

    first, second = receiver.at("/hook")
    assert first.body == second.body
    claims = []
    for push, moment in zip((first, second), moments, strict=True):
        # Pushes are signed at the gateway's time; verify each as its receiver would then.
        with time_machine.travel(moment, tick=False):
            claims.append(jwt.decode(push.headers["X-Dt-Signature"], SECRET, algorithms=["HS256"]))
    for claim, push, moment in zip(claims, (first, second), moments, strict=True):
        assert claim["checksum"] == hashlib.sha1(push.body).hexdigest()
        assert claim["checksum_sha256"] == hashlib.sha256(push.body).hexdigest()
        assert claim["iat"] == int(moment.timestamp())
        assert claim["exp"] == claim["iat"] + 3600
        assert claim["jti"] != first.event_id
    assert claims[0]["jti"] != claims[1]["jti"]
    header = jwt.get_unverified_header(first.headers["X-Dt-Signature"])
    assert header == {"alg": "HS256", "typ": "JWT"}


async def test_body_shape_and_key_order(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), labels=["name"])
    created = await gateway.call(
        "POST",
        f"/v2/projects/{account.project_id}/devices",
        account,
        json={"type": "touch", "labels": {"name": "button"}, "productNumber": "102060"},
    )
    device = created["name"].split("/")[-1]
    moment = "2022-02-10T12:42:13.313949Z"
    event = await gateway.publish(account, device, {"touch": {"updateTime": moment}})

    await gateway.deliver()

    [push] = receiver.at("/hook")
    expected = {
        "event": {
            "eventId": event["eventId"],
            "targetName": f"projects/{account.project_id}/devices/{device}",
            "eventType": "touch",
            "data": {"touch": {"updateTime": moment}},
            "timestamp": moment,
        },
        "labels": {"name": "button"},
        "metadata": {
            "deviceId": device,
            "projectId": account.project_id,
            "deviceType": "touch",
            "productNumber": "102060",
        },
    }
    assert push.body == orjson.dumps(expected)


async def test_labels_changed_is_delivered_with_bare_data(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), labels=["name", "floor"])
    device = await gateway.device(account, name="old", floor="1", room="a")

    answer = await relabel(
        gateway, account, [device], add={"name": "new", "desk": "7"}, remove=["room"]
    )
    assert answer == {"batchErrors": []}
    assert await gateway.deliver() == 1

    [push] = receiver.at("/hook")
    event = payload(push)["event"]
    assert event["eventType"] == "labelsChanged"
    assert event["data"] == {
        "added": {"desk": "7"},
        "modified": {"name": "new"},
        "removed": ["room"],
    }
    assert payload(push)["labels"] == {"name": "new", "floor": "1"}
    assert list(event) == ["eventId", "targetName", "eventType", "data", "timestamp"]


async def test_publish_is_idempotent(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}}, event_id="once")
    await gateway.publish(account, device, {"temperature": {"value": 1}}, event_id="once")
    await publish_batch(
        gateway,
        account,
        [
            {"device": device, "eventId": "once", "data": {"temperature": {"value": 1}}},
            {"device": device, "eventId": "twice", "data": {"temperature": {"value": 2}}},
            {"device": device, "eventId": "twice", "data": {"temperature": {"value": 2}}},
        ],
    )

    assert await gateway.deliver() == 2

    assert sorted(r.event_id for r in receiver.at("/hook")) == ["once", "twice"]
    stored = await gateway.db.fetchval("SELECT count(*) FROM events")
    assert stored == 2


async def test_republishing_an_event_id_answers_with_the_stored_event(gateway: Gateway) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    first = await gateway.publish(account, device, {"temperature": {"value": 1}}, event_id="once")
    gateway.clock.advance(5)

    again = await gateway.publish(account, device, {"temperature": {"value": 9}}, event_id="once")
    batch = await publish_batch(
        gateway,
        account,
        [
            {"device": device, "eventId": "once", "data": {"temperature": {"value": 7}}},
            {"device": device, "eventId": "new", "data": {"temperature": {"value": 2}}},
        ],
    )

    assert again == first
    assert batch["events"][0] == first
    assert batch["events"][1]["eventId"] == "new"
    assert batch["events"][1]["data"]["temperature"]["value"] == 2
    assert batch["events"][1]["timestamp"] != first["timestamp"]


async def test_batch_naming_an_unknown_device_stores_nothing(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    path = f"/v2/projects/{account.project_id}/devices:publishBatch"
    body = {
        "events": [
            {"device": device, "eventId": "known", "data": {"temperature": {"value": 1}}},
            {"device": "nosuchdevice", "eventId": "unknown", "data": {"temperature": {"value": 1}}},
        ]
    }

    await gateway.call("POST", path, account, expect=404, json=body)

    assert await gateway.db.fetchval("SELECT count(*) FROM events") == 0
    assert await queued(gateway) == 0
    # The same id twice must not hide an unknown device either.
    body["events"][1]["eventId"] = "known"
    await gateway.call("POST", path, account, expect=404, json=body)
    assert await gateway.db.fetchval("SELECT count(*) FROM events") == 0


async def test_a_connector_the_cache_has_not_seen_yet_still_receives(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    first = await gateway.connector(account, receiver.url("/first"))
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1  # the project's connectors are now cached
    # Another replica adds a connector; its notification has not arrived here yet.
    await gateway.db.execute(
        """INSERT INTO connectors SELECT project_id, 'second', display_name, status, events,
               labels, $2, signature_secret, headers, created_at
           FROM connectors WHERE id = $1""",
        connector_id(first),
        receiver.url("/second"),
    )
    await gateway.publish(account, device, {"temperature": {"value": 2}})

    assert await gateway.deliver() == 2

    assert len(receiver.at("/second")) == 1


async def test_one_round_delivers_to_the_healthy_while_the_dead_times_out(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    async with black_hole() as dead_url:
        await gateway.connector(account, dead_url + "/hook")
        await gateway.connector(account, receiver.url("/healthy"))
        for value in range(10):
            await gateway.publish(account, device, {"temperature": {"value": value}})

        deliver = asyncio.create_task(gateway.deliver())
        within = gateway.settings.push_timeout * 0.75
        await eventually(lambda: len(receiver.at("/healthy")) == 10, timeout=within)
        assert not deliver.done()  # the dead endpoint's pushes are still waiting
        assert await deliver == 20
