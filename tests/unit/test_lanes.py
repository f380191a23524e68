"""Lanes alone: admission through each connector's window, halting after failures in a row."""

from __future__ import annotations

from typing import Any

from gateway.dispatch.lanes import Lane, Lanes
from gateway.dispatch.retry import PROBE_AFTER


def row(delivery_id: int, connector: str = "c", probing: bool = False) -> dict[str, Any]:
    return {"id": delivery_id, "connector_id": connector, "probing": probing}


async def take_all(lanes: Lanes) -> list[tuple[dict[str, Any], Lane]]:
    taken = []
    while lanes.admitted > len(taken):
        taken.append(await lanes.take())
    return taken


async def test_a_new_connector_gets_one_push_then_more_as_it_answers() -> None:
    lanes = Lanes(window_max_size=4)
    for delivery in range(10):
        lanes.add(row(delivery))  # type: ignore[arg-type]
    first = await take_all(lanes)
    assert [r["id"] for r, _ in first] == [0]
    (done, lane), = first
    assert lanes.finish(done, lane, ok=True) == []  # type: ignore[arg-type]
    assert [r["id"] for r, _ in await take_all(lanes)] == [1, 2]  # the window doubled


async def test_one_failure_does_not_halt_the_lane() -> None:
    lanes = Lanes(window_max_size=4)
    for delivery in range(3):
        lanes.add(row(delivery))  # type: ignore[arg-type]
    (done, lane), = await take_all(lanes)
    assert lanes.finish(done, lane, ok=False) == []  # type: ignore[arg-type]
    assert not lane.halted
    assert [r["id"] for r, _ in await take_all(lanes)] == [1]


async def test_failures_in_a_row_halt_the_lane_and_give_up_the_rest() -> None:
    lanes = Lanes(window_max_size=4)
    for delivery in range(PROBE_AFTER + 5):
        lanes.add(row(delivery))  # type: ignore[arg-type]
    given_up: list[Any] = []
    for _ in range(PROBE_AFTER):
        (done, lane), = await take_all(lanes)
        given_up = lanes.finish(done, lane, ok=False)  # type: ignore[arg-type]
    assert [r["id"] for r in given_up] == list(range(PROBE_AFTER, PROBE_AFTER + 5))
    assert lanes.admitted == 0
    assert lanes.closed_to_claims() == []  # the lane is gone: the database gate holds it now


async def test_a_failed_probe_halts_at_once_and_other_connectors_flow() -> None:
    lanes = Lanes(window_max_size=4)
    lanes.add(row(1, "dead", probing=True))  # type: ignore[arg-type]
    lanes.add(row(2, "dead"))  # type: ignore[arg-type]
    lanes.add(row(3, "healthy"))  # type: ignore[arg-type]
    taken = await take_all(lanes)
    assert sorted(r["id"] for r, _ in taken) == [1, 3]
    probe, lane = next((r, lane) for r, lane in taken if r["connector_id"] == "dead")
    assert [r["id"] for r in lanes.finish(probe, lane, ok=False)] == [2]  # type: ignore[arg-type]


async def test_a_full_lane_is_closed_to_claims() -> None:
    lanes = Lanes(window_max_size=4)
    for delivery in range(4):  # a window of one holds four rounds
        lanes.add(row(delivery))  # type: ignore[arg-type]
    assert lanes.closed_to_claims() == ["c"]
