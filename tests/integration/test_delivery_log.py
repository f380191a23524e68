"""The delivery log on real PostgreSQL and real receivers: drops with their reasons, pages and
filters, :replay, :redeliver and :test."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest

from gateway.api import auth
from gateway.api.common import SERVICES
from gateway.config import Settings
from gateway.dispatch.maintenance import sweep
from gateway.ingest.eventdata import format_timestamp
from tests.harness import Account, Gateway, configured
from tests.integration.helpers import assert_error, snapshot
from tests.integration.support import connector_id, patch_connector, queued
from tests.receiver import Answer, Receiver

HOUR = 3600.0


@pytest.fixture
def attempt_log() -> bool:
    return True


@pytest.fixture
def settings(settings: Settings, attempt_log: bool) -> Settings:
    return configured(settings, push_timeout=0.5, test_push_limit=3, attempt_log=attempt_log)


def dropped(gateway: Gateway, reason: str) -> float:
    value = gateway.metrics.registry.get_sample_value(
        "gateway_deliveries_dropped_total", {"reason": reason}
    )
    return value or 0.0


def base(account: Account, connector: str) -> str:
    return f"/v2/projects/{account.project_id}/dataconnectors/{connector}"


async def log(
    gateway: Gateway, account: Account, connector: str, **params: Any
) -> list[dict[str, Any]]:
    body = await gateway.call("GET", base(account, connector) + "/deliveries", account,
                              params=params)
    assert set(body) == {"deliveries", "nextPageToken"}
    return body["deliveries"]  # type: ignore[no-any-return]


async def setup(
    gateway: Gateway, receiver: Receiver, path: str = "/hook", **fields: Any
) -> tuple[Account, str, str]:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url(path), **fields)
    return account, connector_id(created), await gateway.device(account)


async def publish(gateway: Gateway, account: Account, device: str, event_type: str) -> str:
    data = {"temperature": {"value": 1}} if event_type == "temperature" else {event_type: {}}
    return str((await gateway.publish(account, device, data))["eventId"])


async def test_every_attempt_is_in_the_log_with_its_status_error_and_answer(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    receiver.script(
        "/hook",
        Answer(500, text='{"detail": "database down"}', headers={"Content-Type": "application/json"}),
        Answer(200, delay=1.0),  # past the push timeout
        Answer(200, text="x" * 3000),
    )
    event = await publish(gateway, account, device, "touch")
    for _ in range(3):
        await gateway.deliver()
        [entry] = await log(gateway, account, connector)
        gateway.clock.advance(gateway.settings.retry_max + 1)
    assert entry["status"] == "DELIVERED" and entry["eventId"] == event
    assert entry["nextAttemptTime"] == ""
    failed, timed_out, succeeded = entry["attempts"]
    assert (failed["statusCode"], failed["error"]) == (500, "")
    assert failed["response"] == '{"detail": "database down"}'
    assert timed_out["statusCode"] == 0 and timed_out["error"].startswith("timeout")
    assert float(timed_out["latency"].rstrip("s")) >= 0.5 and timed_out["response"] == ""
    assert succeeded["statusCode"] == 200 and succeeded["response"] == "x" * 1024
    assert failed["time"] < timed_out["time"] < succeeded["time"]
    stored = await gateway.db.fetchval("SELECT count(*) FROM attempts WHERE event_id = $1", event)
    assert stored == 3


async def test_a_failed_delivery_is_retrying_with_its_next_attempt(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    receiver.script("/hook", Answer(503))
    await publish(gateway, account, device, "touch")
    await gateway.deliver()
    [entry] = await log(gateway, account, connector, status="RETRYING")
    assert entry["nextAttemptTime"] > entry["attempts"][0]["time"]
    assert await log(gateway, account, connector, status="PENDING") == []


@pytest.mark.parametrize("attempt_log", [False])
async def test_without_the_attempt_log_only_drops_are_kept(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    receiver.script("/hook", Answer(200), Answer(500))
    await publish(gateway, account, device, "touch")
    await gateway.deliver()
    failing = await publish(gateway, account, device, "touch")
    await gateway.deliver()
    assert len(receiver.received) == 2
    [entry] = await log(gateway, account, connector)
    assert (entry["eventId"], entry["status"], entry["attempts"]) == (failing, "PENDING", [])
    await patch_connector(gateway, account, connector, {"status": "USER_DISABLED"})
    [entry] = await log(gateway, account, connector)
    assert (entry["status"], entry["dropReason"]) == ("DROPPED", "CONNECTOR_DISABLED")
    assert await gateway.db.fetchval("SELECT count(*) FROM attempts") == 0


async def test_disabling_drops_the_queue_into_the_log(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    first = await publish(gateway, account, device, "touch")
    second = await publish(gateway, account, device, "touch")
    [newest, oldest] = await log(gateway, account, connector)
    assert (newest["eventId"], oldest["eventId"]) == (second, first)
    assert newest["status"] == "PENDING" and newest["dropReason"] == ""
    assert newest["nextAttemptTime"] != "" and newest["attempts"] == []

    await patch_connector(gateway, account, connector, {"status": "USER_DISABLED"})

    entries = await log(gateway, account, connector)
    assert [(e["eventId"], e["status"], e["dropReason"]) for e in entries] == [
        (second, "DROPPED", "CONNECTOR_DISABLED"), (first, "DROPPED", "CONNECTOR_DISABLED")
    ]
    assert entries[0]["eventType"] == "touch" and entries[0]["device"] == device
    assert entries[0]["nextAttemptTime"] == "" and entries[0]["test"] is False
    assert entries[0]["name"] == newest["name"]  # the same delivery, now finished
    assert dropped(gateway, "CONNECTOR_DISABLED") == 2
    assert await queued(gateway, connector) == 0
    assert await gateway.deliver() == 0 and receiver.received == []


async def test_deleting_drops_the_queue_and_the_log_stays_readable(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    event = await publish(gateway, account, device, "touch")
    await gateway.call("DELETE", base(account, connector), account)

    [entry] = await log(gateway, account, connector)
    assert (entry["eventId"], entry["status"], entry["dropReason"]) == (
        event, "DROPPED", "CONNECTOR_DELETED"
    )
    assert dropped(gateway, "CONNECTOR_DELETED") == 1
    await gateway.call("GET", base(account, "nosuchconnector") + "/deliveries", account,
                       expect=404)


async def test_a_narrower_filter_drops_the_types_it_no_longer_takes(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    touch = await publish(gateway, account, device, "touch")
    temperature = await publish(gateway, account, device, "temperature")
    await patch_connector(gateway, account, connector, {"events": ["temperature"]})

    statuses = {e["eventId"]: (e["status"], e["dropReason"])
                for e in await log(gateway, account, connector)}
    assert statuses == {touch: ("DROPPED", "FILTER_CHANGED"), temperature: ("PENDING", "")}
    assert dropped(gateway, "FILTER_CHANGED") == 1
    assert await gateway.deliver() == 1
    assert [push.event_id for push in receiver.received] == [temperature]
    [delivered] = await log(gateway, account, connector, status="DELIVERED")
    assert delivered["eventId"] == temperature


async def test_expired_deliveries_are_listed_as_dropped(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    event = await publish(gateway, account, device, "touch")
    gateway.clock.advance(12 * HOUR + 1)
    await sweep(gateway.db, gateway.settings, gateway.metrics, gateway.clock)

    [entry] = await log(gateway, account, connector, status="DROPPED")
    assert (entry["eventId"], entry["dropReason"]) == (event, "EXPIRED")
    assert dropped(gateway, "EXPIRED") == 1
    assert await gateway.deliver() == 0 and receiver.received == []


async def test_a_system_disabled_connector_drops_its_queue_into_the_log(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver, "/down")
    receiver.script("/down", Answer(500))
    for _ in range(6):
        last = await publish(gateway, account, device, "touch")
        await gateway.deliver()
        gateway.clock.advance(gateway.settings.auto_disable_after / 5)
    newest, *older = await log(gateway, account, connector)
    assert (newest["eventId"], newest["status"], newest["dropReason"]) == (
        last, "DROPPED", "CONNECTOR_DISABLED"
    )
    assert newest["attempts"][0]["statusCode"] == 500
    # The first two failed and expired in the queue. From the third failure in a row the
    # connector was probing: each probe takes one unexpired delivery, so the older ones stayed
    # queued (no sweep ran here) and went with the queue when the connector was disabled.
    reasons = [entry["dropReason"] for entry in older]
    assert reasons.count("EXPIRED") == 2 and reasons.count("CONNECTOR_DISABLED") == 3
    assert dropped(gateway, "CONNECTOR_DISABLED") == 4
    assert dropped(gateway, "EXPIRED") == 2


async def test_a_delivery_claimed_past_its_age_is_dropped_as_expired(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    event = await publish(gateway, account, device, "touch")
    gateway.clock.advance(12 * HOUR + 1)
    assert await gateway.deliver() == 1  # claimed, settled without a push
    [entry] = await log(gateway, account, connector)
    assert (entry["eventId"], entry["status"], entry["dropReason"]) == (
        event, "DROPPED", "EXPIRED"
    )
    assert entry["attempts"] == [] and receiver.received == []
    assert dropped(gateway, "EXPIRED") == 1


async def test_the_log_is_pruned_after_its_retention(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    await publish(gateway, account, device, "touch")
    await gateway.deliver()
    assert len(await log(gateway, account, connector)) == 1
    gateway.clock.advance(gateway.settings.attempt_retention + 1)
    await sweep(gateway.db, gateway.settings, gateway.metrics, gateway.clock)
    assert await log(gateway, account, connector) == []
    assert await gateway.db.fetchval("SELECT count(*) FROM attempts") == 0


async def test_replay_after_a_disabled_spell_delivers_exactly_the_missed_events(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    start = gateway.clock()
    before = await publish(gateway, account, device, "touch")
    await gateway.deliver()
    gateway.clock.advance(60)
    queued_then_dropped = await publish(gateway, account, device, "touch")
    await patch_connector(gateway, account, connector, {"status": "USER_DISABLED"})
    gateway.clock.advance(60)
    while_disabled = await publish(gateway, account, device, "touch")
    await patch_connector(gateway, account, connector, {"status": "ACTIVE"})
    gateway.clock.advance(60)
    after = await publish(gateway, account, device, "touch")
    await gateway.deliver()
    assert [push.event_id for push in receiver.received] == [before, after]

    end = gateway.clock() + timedelta(seconds=1)
    window = {"startTime": format_timestamp(start), "endTime": format_timestamp(end),
              "onlyUndelivered": True}
    answer = await gateway.call("POST", base(account, connector) + ":replay", account,
                                json=window)
    assert answer == {"queued": 2}
    await gateway.deliver()
    assert sorted(push.event_id for push in receiver.received[2:]) == sorted(
        [queued_then_dropped, while_disabled]
    )
    # Without onlyUndelivered, the whole window goes again, within the filter and devices.
    whole = {**window, "onlyUndelivered": False, "devices": [device]}
    answer = await gateway.call("POST", base(account, connector) + ":replay", account,
                                json=whole)
    assert answer == {"queued": 4}
    none = {**window, "eventTypes": ["temperature"]}
    answer = await gateway.call("POST", base(account, connector) + ":replay", account,
                                json=none)
    assert answer == {"queued": 0}


async def test_replay_limit_refuses_and_queues_nothing(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    start = gateway.clock()
    for _ in range(3):
        await publish(gateway, account, device, "touch")
    await gateway.deliver()
    gateway.clock.advance(1)
    window = {"startTime": format_timestamp(start), "endTime": format_timestamp(gateway.clock())}
    limited = configured(gateway.settings, replay_limit=2)
    services = gateway.client.app[SERVICES]
    object.__setattr__(services, "settings", limited)
    body = await gateway.call("POST", base(account, connector) + ":replay", account,
                              json=window, expect=400)
    assert_error(body, 400)
    assert "would queue 3 deliveries" in body["error"]
    assert await queued(gateway, connector) == 0


async def test_redeliver_queues_known_events_and_names_unknown_ones(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    event = await publish(gateway, account, device, "touch")
    await gateway.deliver()
    other = await gateway.project()
    foreign_device = await gateway.device(other)
    foreign = await publish(gateway, other, foreign_device, "touch")

    answer = await gateway.call(
        "POST", base(account, connector) + ":redeliver", account,
        json={"eventIds": [event, "unknown-id", foreign, event]},
    )
    assert answer == {"queued": 1, "unknownEventIds": ["unknown-id", foreign]}
    assert await gateway.deliver() == 1
    assert [push.event_id for push in receiver.received] == [event, event]
    too_many = {"eventIds": [f"e{i}" for i in range(1001)]}
    body = await gateway.call("POST", base(account, connector) + ":redeliver", account,
                              json=too_many, expect=400)
    assert_error(body, 400)


async def test_test_push_answers_what_the_receiver_said(
    gateway: Gateway, receiver: Receiver
) -> None:
    secret = "a-signature-secret"
    account, connector, _ = await setup(
        gateway, receiver, "/test", events=["temperature"],
        http={"signatureSecret": secret, "headers": {"x-api-key": "k"}},
    )
    receiver.script("/test", Answer(200), Answer(500))
    ok = await gateway.call("POST", base(account, connector) + ":test", account)
    assert ok["statusCode"] == 200 and ok["error"] == ""
    assert ok["latency"].endswith("s") and set(ok) == {"statusCode", "latency", "error",
                                                       "response"}
    [push] = receiver.at("/test")
    assert push.json["event"]["eventType"] == "temperature"  # type: ignore[index]
    assert push.headers["x-api-key"] == "k" and "x-dt-signature" in push.headers
    failed = await gateway.call("POST", base(account, connector) + ":test", account)
    assert failed["statusCode"] == 500

    entries = await log(gateway, account, connector)
    assert [(e["test"], e["status"]) for e in entries] == [(True, "DROPPED"), (True, "DELIVERED")]
    assert [e["attempts"][0]["statusCode"] for e in entries] == [500, 200]
    metrics = await gateway.call("GET", base(account, connector) + ":metrics", account)
    assert metrics["metrics"]["successCount"] == 0 and metrics["metrics"]["errorCount"] == 0


async def test_test_push_to_a_port_nobody_listens_on(gateway: Gateway) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = await gateway.project()
    connector = connector_id(await gateway.connector(account, f"https://localhost:{port}/x"))
    answer = await gateway.call("POST", base(account, connector) + ":test", account)
    assert answer["statusCode"] == 0 and answer["error"].startswith("connection_refused: ")
    [entry] = await log(gateway, account, connector)
    assert entry["attempts"][0]["error"] == answer["error"]


async def test_test_pushes_are_rate_limited_per_connector(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, _ = await setup(gateway, receiver)
    _, other, _ = await setup(gateway, receiver)
    for _ in range(3):
        await gateway.call("POST", base(account, connector) + ":test", account)
    body = await gateway.call("POST", base(account, connector) + ":test", account, expect=429)
    assert_error(body, 429)
    assert len(receiver.received) == 3
    gateway.clock.advance(61)
    await gateway.call("POST", base(account, connector) + ":test", account)
    assert len(receiver.received) == 4
    del other


async def test_pages_filters_and_one_delivery(gateway: Gateway, receiver: Receiver) -> None:
    account, connector, device = await setup(gateway, receiver)
    events = []
    for _ in range(5):
        events.append(await publish(gateway, account, device, "touch"))
        gateway.clock.advance(10)
    seen, token = [], ""
    while True:
        body = await gateway.call("GET", base(account, connector) + "/deliveries", account,
                                  params={"pageSize": "2", "pageToken": token})
        seen += [entry["eventId"] for entry in body["deliveries"]]
        token = body["nextPageToken"]
        if not token:
            break
    assert seen == events[::-1]
    [one] = await log(gateway, account, connector, eventId=events[2])
    fetched = await gateway.call("GET", "/v2/" + one["name"], account)
    assert fetched == one
    middle = await log(gateway, account, connector, startTime=one["createTime"],
                       endTime=format_timestamp(gateway.clock()))
    assert [entry["eventId"] for entry in middle] == events[:1:-1]
    reader = await gateway.account(account.project_id, auth.USER)
    assert await gateway.call("GET", "/v2/" + one["name"], reader) == one
    missing = base(account, connector) + "/deliveries/999999999"
    assert_error(await gateway.call("GET", missing, account, expect=404), 404)
    stranger = await gateway.project()
    assert_error(await gateway.call("GET", "/v2/" + one["name"], stranger, expect=404), 404)


@pytest.mark.parametrize("params", [
    {"status": "LOST"}, {"startTime": "yesterday"}, {"endTime": "2026-13-01T00:00:00Z"},
    {"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"},
    {"pageSize": "201"}, {"pageSize": "-1"}, {"pageToken": "!!"}, {"eventId": "a b"},
])
async def test_bad_list_filters_are_400(
    gateway: Gateway, receiver: Receiver, params: dict[str, str]
) -> None:
    account, connector, _ = await setup(gateway, receiver)
    body = await gateway.call("GET", base(account, connector) + "/deliveries", account,
                              params=params, expect=400)
    assert_error(body, 400)


@pytest.mark.parametrize("window", [
    {"startTime": "2026-01-02T00:00:00Z"},
    {"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"},
    {"startTime": "2000-01-01T00:00:00Z", "endTime": "2000-01-02T00:00:00Z"},
    {"startTime": "NOW-1", "endTime": "NOW", "eventTypes": ["nosuchtype"]},
    {"startTime": "NOW-1", "endTime": "NOW", "devices": "d"},
    {"startTime": "NOW-1", "endTime": "NOW", "onlyUndelivered": "yes"},
    {"startTime": "NOW-1", "endTime": "NOW", "colour": "red"},
    {"startTime": "DAYS-5", "endTime": "NOW", "onlyUndelivered": True},
])
async def test_bad_replays_are_400_and_queue_nothing(
    gateway: Gateway, receiver: Receiver, window: dict[str, Any]
) -> None:
    account, connector, device = await setup(gateway, receiver)
    await publish(gateway, account, device, "touch")
    await gateway.deliver()
    now = gateway.clock()
    times = {"NOW": now, "NOW-1": now.replace(microsecond=0) - timedelta(hours=1),
             "DAYS-5": now - timedelta(days=5)}
    body = {key: format_timestamp(times[value]) if isinstance(value, str) and value in times
            else value for key, value in window.items()}
    before = await snapshot(gateway.db)
    answer = await gateway.call("POST", base(account, connector) + ":replay", account,
                                json=body, expect=400)
    assert_error(answer, 400)
    assert await snapshot(gateway.db) == before


async def test_acting_on_a_disabled_connector_is_refused(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, connector, device = await setup(gateway, receiver)
    event = await publish(gateway, account, device, "touch")
    await patch_connector(gateway, account, connector, {"status": "USER_DISABLED"})
    now = gateway.clock()
    window = {"startTime": format_timestamp(now - timedelta(hours=1)),
              "endTime": format_timestamp(now)}
    for action, body in ((":replay", window), (":redeliver", {"eventIds": [event]})):
        answer = await gateway.call("POST", base(account, connector) + action, account,
                                    json=body, expect=400)
        assert_error(answer, 400)
    assert await queued(gateway, connector) == 0
