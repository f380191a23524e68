"""Fresh deliveries handed to this process's dispatcher by the publish that queues them: the
running dispatcher takes them without a claim (the statement's rules are in
test_hand_off_statement.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.ingest.hand_off import taken_rows
from gateway.store import enqueue
from tests.harness import Gateway, configured
from tests.integration.support import connector_id, eventually, publish_batch, queued
from tests.receiver import Receiver

CHANNEL = "gateway_deliveries"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A long poll: only a notification or a hand-off gets a delivery pushed within a test.
    return configured(settings, dispatcher=True, poll_interval=60.0, shutdown_timeout=0.2)


class Notifications:
    """What a LISTEN on the dispatchers' channel hears."""

    def __init__(self) -> None:
        self.heard = 0

    def __call__(self, *_: object) -> None:
        self.heard += 1


def readings(device: str, count: int) -> list[dict[str, Any]]:
    return [{"device": device, "data": {"temperature": {"value": n}}} for n in range(count)]


async def listening(gateway: Gateway) -> tuple[asyncpg.Connection, Notifications]:
    connection = await asyncpg.connect(gateway.settings.database_url)
    notifications = Notifications()
    await connection.add_listener(CHANNEL, notifications)
    return connection, notifications


async def test_a_publish_hands_its_deliveries_to_the_running_dispatcher(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    connection, notifications = await listening(gateway)
    try:
        await publish_batch(gateway, account, readings(device, 20))
        await eventually(lambda: len(receiver.at("/hook")) == 20)
        await asyncio.sleep(0.2)  # a notification would have come by now
        assert notifications.heard == 0  # nothing was left to claim
    finally:
        await connection.close()


async def test_new_events_behind_deliveries_due_are_all_delivered(
    gateway: Gateway, receiver: Receiver
) -> None:
    """Whichever takes them, the claim or a publish (the statement's rule, that a connector
    with deliveries due takes none, is tested in test_hand_off_statement.py)."""
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    [first] = (await publish_batch(gateway, account, readings(device, 1)))["events"]
    await eventually(lambda: len(receiver.at("/hook")) == 1)
    await gateway.db.execute(
        "INSERT INTO deliveries (project_id, connector_id, event_id, due_at, expires_at,"
        " created_at) VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz + interval '1 hour',"
        " $4::timestamptz)",
        account.project_id, connector_id(created), first["eventId"], gateway.clock(),
    )  # fmt: skip
    await publish_batch(gateway, account, readings(device, 3))
    await eventually(lambda: len(receiver.at("/hook")) == 5)

    async def all_recorded() -> bool:
        return await queued(gateway) == 0

    await eventually(all_recorded)


async def test_a_stopping_dispatcher_takes_none_and_hands_back_what_a_publish_leased(
    gateway: Gateway,
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, "http://127.0.0.1:9/hook")
    device = await gateway.device(account)
    dispatcher = gateway.dispatcher
    now = gateway.clock()
    room = dispatcher.hand_off_room(now)
    assert room is not None and room.limit > 0
    # A publish that asked for room before the stop, and is answered after it.
    stored = [("e1", device, "temperature", b'{"eventId":"e1"}')]
    columns = ([e[0] for e in stored], [device], ["temperature"], [now], [stored[0][3]])
    batch = await enqueue.store_events(
        gateway.db, account.project_id, now, now + timedelta(hours=1), columns, room
    )
    assert len(batch.taken) == 1
    await dispatcher.stop(0.2)
    assert dispatcher.hand_off_room(now) is None
    await dispatcher.take_over(taken_rows(account.project_id, stored, batch, now, now))
    row = await gateway.db.fetchrow("SELECT connector_id, attempts, due_at FROM deliveries")
    assert row is not None
    assert (row["connector_id"], row["attempts"]) == (connector_id(created), 0)
    assert row["due_at"] <= gateway.clock()  # due again at once, for the next process
