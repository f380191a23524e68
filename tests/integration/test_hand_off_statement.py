"""The publish statement's hand-off rules (gateway/ingest/hand_off.py), against PostgreSQL:
which new deliveries it leases to this process, and what it leaves to the claim."""

from __future__ import annotations

from datetime import timedelta

from gateway.ids import new_id
from gateway.store import enqueue
from gateway.store.enqueue import HandOffRoom, StoredBatch
from tests.harness import Account, Gateway
from tests.integration.support import connector_id

LEASE = timedelta(seconds=60)
OPEN = {"limit": 100, "per_connector": 100, "closed": []}


async def store(
    gateway: Gateway, account: Account, device: str, count: int, room: HandOffRoom | None
) -> StoredBatch:
    now = gateway.clock()
    ids = [new_id() for _ in range(count)]
    bodies = [b'{"eventId":"%s"}' % event_id.encode() for event_id in ids]
    columns = (ids, [device] * count, ["temperature"] * count, [now] * count, bodies)
    return await enqueue.store_events(
        gateway.db, account.project_id, now, now + timedelta(hours=1), columns, room
    )


def room(gateway: Gateway, **changes: object) -> HandOffRoom:
    fields = {**OPEN, **changes}
    return HandOffRoom(gateway.clock() + LEASE, **fields)  # type: ignore[arg-type]


async def setup(gateway: Gateway, connectors: int = 1) -> tuple[Account, str, list[str]]:
    account = await gateway.project()
    made = [
        await gateway.connector(account, f"http://127.0.0.1:9/{n}") for n in range(connectors)
    ]
    device = await gateway.device(account, "temperature", room="lab")
    return account, device, [connector_id(connector) for connector in made]


async def queue(gateway: Gateway) -> list[tuple[str, int, bool]]:
    """(connector, attempts, leased past now) of every queued delivery."""
    rows = await gateway.db.fetch(
        "SELECT connector_id, attempts, due_at > $1 AS leased FROM deliveries", gateway.clock()
    )
    return sorted((row["connector_id"], row["attempts"], row["leased"]) for row in rows)


async def test_deliveries_with_room_are_leased_by_the_statement_and_returned(
    gateway: Gateway,
) -> None:
    account, device, [connector] = await setup(gateway)
    batch = await store(gateway, account, device, 3, room(gateway))
    assert batch.queued == 3
    assert sorted(taken[1] for taken in batch.taken) == [connector] * 3
    assert batch.taken_devices == {device: ({"room": "lab"}, "temperature", "")}
    assert await queue(gateway) == [(connector, 1, True)] * 3


async def test_without_room_everything_is_left_due_to_the_claim(gateway: Gateway) -> None:
    account, device, [connector] = await setup(gateway)
    batch = await store(gateway, account, device, 2, None)
    assert batch.taken == [] and batch.taken_devices == {}
    assert await queue(gateway) == [(connector, 0, False)] * 2


async def test_at_most_the_room_is_taken_in_all_and_of_each_connector(gateway: Gateway) -> None:
    account, device, connectors = await setup(gateway, connectors=3)
    batch = await store(gateway, account, device, 4, room(gateway, limit=5, per_connector=2))
    taken = [taken[1] for taken in batch.taken]
    assert len(taken) == 5
    assert all(taken.count(connector) <= 2 for connector in connectors)
    assert [attempts for _, attempts, _ in await queue(gateway)].count(0) == 12 - 5


async def test_closed_and_probing_connectors_take_none(gateway: Gateway) -> None:
    account, device, [closed, probing, open_one] = await setup(gateway, connectors=3)
    await gateway.db.execute(
        "UPDATE connectors SET retry_at = $2 WHERE id = $1", probing, gateway.clock()
    )
    batch = await store(gateway, account, device, 2, room(gateway, closed=[closed]))
    assert sorted({taken[1] for taken in batch.taken}) == [open_one]


async def test_a_connector_with_older_deliveries_due_takes_none(gateway: Gateway) -> None:
    account, device, [connector] = await setup(gateway)
    await store(gateway, account, device, 1, None)  # due now, not claimed yet
    batch = await store(gateway, account, device, 2, room(gateway))
    assert batch.taken == []
    assert await queue(gateway) == [(connector, 0, False)] * 3
    # A delivery waiting for its retry later does not hold new ones back.
    await gateway.db.execute("UPDATE deliveries SET due_at = $1", gateway.clock() + LEASE)
    batch = await store(gateway, account, device, 1, room(gateway))
    assert len(batch.taken) == 1
