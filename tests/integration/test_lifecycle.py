"""The background dispatcher end to end, and the listener that keeps replicas in step."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.dispatch import registry as bus
from gateway.dispatch.listener import Listener
from gateway.dispatch.registry import ConnectorRegistry
from gateway.store import connectors
from tests.harness import Gateway, configured
from tests.integration.support import black_hole, connector_id, eventually, publish_batch, queued
from tests.receiver import Receiver

PUSH_TIMEOUT = 3.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A long poll: only a notification can wake the dispatcher within a test.
    return configured(
        settings,
        dispatcher=True,
        poll_interval=60.0,
        push_timeout=PUSH_TIMEOUT,
        shutdown_timeout=0.2,
    )


async def test_the_background_dispatcher_delivers_what_is_published(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    published = set()
    for value in range(20):
        event = await gateway.publish(account, device, {"temperature": {"value": value}})
        published.add(event["eventId"])

    await eventually(lambda: len(receiver.at("/hook")) == 20)
    assert {r.event_id for r in receiver.at("/hook")} == published

    async def recorded() -> bool:
        return await queued(gateway, connector_id(created)) == 0

    await eventually(recorded)


async def test_a_dead_endpoint_does_not_delay_a_healthy_one(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    device = await gateway.device(account, "touch")
    async with black_hole() as dead_url:
        await gateway.connector(account, dead_url + "/hook", events=["temperature"])
        backlog = [{"device": device, "data": {"temperature": {"value": i}}} for i in range(300)]
        path = f"/v2/projects/{account.project_id}/devices:publishBatch"
        await gateway.call("POST", path, account, json={"events": backlog})
        await gateway.connector(account, receiver.url("/healthy"), events=["touch"])
        started = time.monotonic()
        for _ in range(20):
            await gateway.publish(account, device, {"touch": {}})

        await eventually(lambda: len(receiver.at("/healthy")) == 20)

        assert time.monotonic() - started < PUSH_TIMEOUT * 0.75


async def test_a_change_on_another_connection_refreshes_the_registry(
    gateway: Gateway, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/before"))
    registry = ConnectorRegistry(pool, gateway.box)
    listener = Listener(gateway.settings.database_url or "", registry, lambda: None)
    listening = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        project, connector = account.project_id, connector_id(created)
        cached = await registry.get(project, connector)
        assert cached is not None and cached.url == receiver.url("/before")

        await connectors.update(
            gateway.db,
            gateway.box,
            project,
            connector,
            lambda c: replace(c, url=receiver.url("/after")),
            gateway.clock(),
        )

        async def refreshed() -> bool:
            found = await registry.get(project, connector)
            return found is not None and found.url == receiver.url("/after")

        await eventually(refreshed)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def test_a_deliveries_notification_wakes_the_dispatcher(
    gateway: Gateway, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    woken = asyncio.Event()
    registry = ConnectorRegistry(pool, gateway.box)
    listener = Listener(gateway.settings.database_url or "", registry, woken.set)
    listening = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        woken.clear()
        # This process's dispatcher takes nothing now, as one without room: the publish leaves
        # its delivery to the claims, and says so.
        await gateway.dispatcher.stop(0.2)

        await gateway.publish(account, device, {"temperature": {"value": 1}})

        await asyncio.wait_for(woken.wait(), 10)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def test_a_change_during_a_first_load_is_not_cached(
    gateway: Gateway, pool: asyncpg.Pool, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    registry = ConnectorRegistry(pool, gateway.box)
    load = connectors.of_project

    async def load_then_reconnect(
        db: asyncpg.Pool, box: Any, project_id: str
    ) -> list[object]:
        found = await load(db, box, project_id)
        registry.invalidate()  # the listener reconnected while this load was reading
        return found  # type: ignore[return-value]

    monkeypatch.setattr(bus.connectors, "of_project", load_then_reconnect)

    assert len(await registry.of_project(account.project_id)) == 1
    assert len(registry) == 0


async def test_a_backlog_drains_without_waiting_for_a_poll(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    for first in range(0, 2000, 1000):
        batch = [
            {"device": device, "data": {"temperature": {"value": i}}}
            for i in range(first, first + 1000)
        ]
        await publish_batch(gateway, account, batch)

    # Two notifications, then only finished pushes can move the dispatcher on.
    await eventually(lambda: len(receiver.at("/hook")) == 2000, timeout=30)

