""":sync, :metrics, event history, retention, and the claim's use of its index."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import orjson

from gateway.dispatch.maintenance import sweep
from gateway.ingest.eventdata import format_timestamp
from gateway.store import deliveries, sql
from tests.harness import Account, Gateway
from tests.integration.support import connector_id, payload, publish_batch, queued
from tests.receiver import Answer, Receiver

HOUR = 3600.0


def stamp(gateway: Gateway, seconds_ago: float) -> str:
    return format_timestamp(gateway.clock() - timedelta(seconds=seconds_ago))


async def sync(gateway: Gateway, account: Account, connector: str) -> Any:
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}:sync"
    return await gateway.call("POST", path, account)


async def metrics(gateway: Gateway, account: Account, connector: str) -> Any:
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}:metrics"
    return (await gateway.call("GET", path, account))["metrics"]


async def test_sync_pushes_the_latest_event_of_each_type(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/other"))
    fridge = await gateway.device(account, "temperature", name="fridge", floor="1")
    button = await gateway.device(account, "touch", name="button")
    newer = await gateway.publish(
        account, fridge, {"temperature": {"value": 5, "updateTime": stamp(gateway, 10)}}
    )
    await gateway.publish(
        account, fridge, {"temperature": {"value": 4, "updateTime": stamp(gateway, 20)}}
    )
    await gateway.publish(account, fridge, {"batteryStatus": {"percentage": 90}})
    touch = await gateway.publish(account, button, {"touch": {}})
    assert await gateway.deliver() == 4
    synced = await gateway.connector(
        account, receiver.url("/synced"), events=["temperature", "touch"], labels=["name"]
    )

    assert await sync(gateway, account, connector_id(synced)) == {}
    assert receiver.at("/synced") == []  # answered before pushing
    assert await gateway.deliver() == 2

    pushes = {r.event_id: payload(r) for r in receiver.at("/synced")}
    assert set(pushes) == {newer["eventId"], touch["eventId"]}
    assert pushes[newer["eventId"]]["event"] == newer
    assert pushes[newer["eventId"]]["labels"] == {"name": "fridge"}
    assert pushes[touch["eventId"]]["labels"] == {"name": "button"}
    assert len(receiver.at("/other")) == 4  # only the synced connector


async def test_sync_queues_ten_thousand_devices(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    devices = [f"dev{i:05d}" for i in range(10_000)]
    await gateway.db.execute(
        """INSERT INTO devices (project_id, id, type, product_number, labels, created_at)
           SELECT $1, id, 'temperature', '', '{}', $3 FROM unnest($2::text[]) AS id""",
        account.project_id,
        devices,
        gateway.clock(),
    )
    kinds = [
        {"temperature": {"value": 1}},
        {"touch": {}},
        {"batteryStatus": {"percentage": 50}},
        {"networkStatus": {"signalStrength": 80, "rssi": -60}},
        {"co2": {"ppm": 400}},
    ]
    for first in range(0, len(devices), 200):
        batch = [{"device": d, "data": k} for d in devices[first : first + 200] for k in kinds]
        await publish_batch(gateway, account, batch)
    synced = await gateway.connector(account, receiver.url("/synced"))

    assert await sync(gateway, account, connector_id(synced)) == {}

    # How fast it goes is bench/'s to say (the sync step); here, that every delivery is queued.
    assert await queued(gateway, connector_id(synced)) == 50_000


async def test_metrics_count_the_last_three_hours(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    receiver.script("/hook", Answer(200), Answer(200), Answer(500), Answer(200))
    created = await gateway.connector(account, receiver.url("/hook"))
    connector = connector_id(created)
    device = await gateway.device(account)
    assert await metrics(gateway, account, connector) == {
        "successCount": 0,
        "errorCount": 0,
        "latency99p": "0.000s",
    }
    for value in range(3):
        await gateway.publish(account, device, {"temperature": {"value": value}})
    assert await gateway.deliver() == 3
    gateway.clock.advance(60)
    assert await gateway.deliver() == 1

    counted = await metrics(gateway, account, connector)
    assert (counted["successCount"], counted["errorCount"]) == (3, 1)
    assert re.fullmatch(r"\d+\.\d{3}s", counted["latency99p"])
    assert 0 < float(counted["latency99p"][:-1]) < gateway.settings.push_timeout * 1.2

    gateway.clock.advance(3 * HOUR - 180)
    assert (await metrics(gateway, account, connector))["successCount"] == 3
    gateway.clock.advance(240)
    assert await metrics(gateway, account, connector) == {
        "successCount": 0,
        "errorCount": 0,
        "latency99p": "0.000s",
    }


async def history(gateway: Gateway, account: Account, device: str, **query: str) -> Any:
    path = f"/v2/projects/{account.project_id}/devices/{device}/events"
    return await gateway.call("GET", path, account, params=query)


async def test_event_history_filters_and_pages(gateway: Gateway) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    temperatures = [
        {"device": device, "data": {"temperature": {"value": i, "updateTime": stamp(gateway, i)}}}
        for i in range(1, 1006)
    ]
    touches = [
        {"device": device, "data": {"touch": {"updateTime": stamp(gateway, 0.5 + i * 100)}}}
        for i in range(3)
    ]
    await publish_batch(gateway, account, temperatures[:1000])
    await publish_batch(gateway, account, temperatures[1000:] + touches)

    first = await history(gateway, account, device, eventTypes="temperature")
    assert len(first["events"]) == 1000 and first["nextPageToken"]
    second = await history(
        gateway, account, device, eventTypes="temperature", pageToken=first["nextPageToken"]
    )
    assert second["nextPageToken"] == ""
    values = [e["data"]["temperature"]["value"] for e in first["events"] + second["events"]]
    assert values == list(range(1005, 0, -1))  # oldest first, each once

    only_touch = await history(gateway, account, device, eventTypes="touch")
    assert [e["eventType"] for e in only_touch["events"]] == ["touch"] * 3
    window = await history(
        gateway, account, device, startTime=stamp(gateway, 10), endTime=stamp(gateway, 5)
    )
    assert sorted(e["data"]["temperature"]["value"] for e in window["events"]) == [6, 7, 8, 9, 10]
    assert window["nextPageToken"] == ""


async def test_retention_keeps_each_devices_latest_events(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    old = await gateway.publish(
        account, device, {"temperature": {"value": 1, "updateTime": stamp(gateway, 60)}}
    )
    latest = await gateway.publish(account, device, {"temperature": {"value": 2}})
    touch = await gateway.publish(account, device, {"touch": {}})
    assert await gateway.deliver() == 3
    gateway.clock.advance(gateway.settings.retention + 60)
    recent = await gateway.publish(account, device, {"batteryStatus": {"percentage": 9}})
    await gateway.deliver()

    await sweep(gateway.db, gateway.settings, gateway.metrics, gateway.clock)

    kept = {row["id"] for row in await gateway.db.fetch("SELECT id FROM events")}
    assert kept == {latest["eventId"], touch["eventId"], recent["eventId"]}
    assert old["eventId"] not in kept
    minutes = await gateway.db.fetch("SELECT DISTINCT minute FROM push_stats")
    assert [row["minute"] for row in minutes] == [gateway.clock().replace(second=0, microsecond=0)]
    assert (await metrics(gateway, account, connector_id(created)))["successCount"] == 1


def index_names(plan: Any) -> set[str]:
    if isinstance(plan, dict):
        found = {plan["Index Name"]} if "Index Name" in plan else set()
        return found.union(*(index_names(value) for value in plan.values()))
    if isinstance(plan, list):
        return set().union(*(index_names(item) for item in plan))
    return set()


async def test_claim_walks_connectors_by_index(gateway: Gateway) -> None:
    now: datetime = gateway.clock()
    await gateway.db.execute(
        # 5,000 rows over 50 connectors; one in fifty due, the others due within the next hours.
        """INSERT INTO deliveries (project_id, connector_id, event_id, due_at, expires_at,
                                   created_at)
           SELECT 'p', 'c' || (i % 50), 'e' || i,
                  $1::timestamptz + CASE WHEN i % 50 = 0 THEN -i ELSE i END * interval '1 s',
                  $1 + interval '12 hours', $1
           FROM generate_series(1, 5000) AS i""",
        now,
    )
    await gateway.db.execute("ANALYZE deliveries")

    plan = await gateway.db.fetchval(
        "EXPLAIN (FORMAT JSON) " + sql("claim_deliveries"),
        now,
        100,
        now + timedelta(minutes=1),
        ["c1"],
        32,
        "",
        "",
    )

    assert "deliveries_connector" in index_names(orjson.loads(plan))


async def test_a_long_queue_does_not_starve_a_quiet_connector(gateway: Gateway) -> None:
    """One claim serves each connector with due work, however old a long queue is."""
    now: datetime = gateway.clock()
    await gateway.db.execute(
        """INSERT INTO events (project_id, id, device_id, event_type, timestamp, body, labels,
                               device_type, product_number, created_at)
           SELECT 'p', 'e' || i, 'd', 'touch', $1, '{}', '{}', 'touch', '', $1
           FROM generate_series(0, 2000) AS i""",
        now,
    )
    await gateway.db.execute(
        # A busy project's 2,000 deliveries, all older than a quiet project's single one.
        """INSERT INTO deliveries (project_id, connector_id, event_id, due_at, expires_at,
                                   created_at)
           SELECT 'p',
                  CASE WHEN i = 0 THEN 'z-quiet' ELSE 'busy' || (i % 3) END, 'e' || i,
                  $1::timestamptz - CASE WHEN i = 0 THEN 0 ELSE 3600 - i END * interval '1 s',
                  $1 + interval '12 hours', $1
           FROM generate_series(0, 2000) AS i""",
        now,
    )
    rows = await deliveries.claim(gateway.db, now, 100, now + timedelta(minutes=1), [], 32)
    assert "z-quiet" in {row["connector_id"] for row in rows}
