"""The ingest gate: a bound on publishes in progress, and a short queue in front of it."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.api.admission import IngestGate
from gateway.errors import Overloaded


async def hold(gate: IngestGate, admitted: list[int], n: int, release: asyncio.Event) -> None:
    async with gate.admit():
        admitted.append(n)
        await release.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_past_the_bound_a_publish_waits_and_takes_the_first_place_that_frees() -> None:
    gate, admitted = IngestGate(2, queue=2), []
    releases = [asyncio.Event() for _ in range(4)]
    tasks = [asyncio.create_task(hold(gate, admitted, n, releases[n])) for n in range(4)]
    await settle()
    assert admitted == [0, 1] and gate.active == 2 and gate.waiting == 2
    releases[1].set()
    await settle()
    assert admitted == [0, 1, 2]  # in the order they came
    assert gate.active == 2 and gate.waiting == 1
    for release in releases:
        release.set()
    await asyncio.gather(*tasks)
    assert admitted == [0, 1, 2, 3] and gate.active == 0 and gate.waiting == 0


async def test_past_the_queue_a_publish_is_refused_at_once() -> None:
    gate, admitted, release = IngestGate(1, queue=1), [], asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, admitted, n, release)) for n in range(2)]
    await settle()
    with pytest.raises(Overloaded):
        async with gate.admit():
            pytest.fail("admitted past the queue")
    release.set()
    await asyncio.gather(*tasks)
    assert admitted == [0, 1] and gate.active == 0


async def test_a_publish_that_waited_its_retry_time_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Overloaded, "retry_after", 0.05)
    gate, admitted, release = IngestGate(1, queue=4), [], asyncio.Event()
    holder = asyncio.create_task(hold(gate, admitted, 0, release))
    await settle()
    with pytest.raises(Overloaded):
        async with gate.admit():
            pytest.fail("admitted while the place was held")
    assert gate.waiting == 0 and gate.active == 1
    release.set()
    await holder
    assert gate.active == 0


async def test_a_waiter_cancelled_before_or_as_its_place_comes_loses_no_place() -> None:
    gate, admitted, release = IngestGate(1, queue=4), [], asyncio.Event()
    holder = asyncio.create_task(hold(gate, admitted, 0, release))
    before = asyncio.create_task(hold(gate, admitted, 1, asyncio.Event()))
    handed = asyncio.create_task(hold(gate, admitted, 2, asyncio.Event()))
    last = asyncio.create_task(hold(gate, admitted, 3, release))
    await settle()
    before.cancel()
    await settle()
    assert gate.waiting == 2
    release.set()  # the holder's place goes to `handed`...
    await asyncio.sleep(0)
    handed.cancel()  # ...cancelled before it ran: the place passes on to `last`
    for task in (holder, before, handed, last):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert admitted == [0, 3]
    assert gate.active == 0 and gate.waiting == 0


async def test_a_waiter_cancelled_just_before_a_release_passes_is_skipped() -> None:
    gate, admitted, release = IngestGate(1, queue=4), [], asyncio.Event()
    holder = asyncio.create_task(hold(gate, admitted, 0, release))
    cancelled = asyncio.create_task(hold(gate, admitted, 1, asyncio.Event()))
    last = asyncio.create_task(hold(gate, admitted, 2, release))
    await settle()
    cancelled.cancel()  # its place is cancelled now, its task leaves the queue later
    release.set()
    for task in (holder, cancelled, last):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert admitted == [0, 2]
    assert gate.active == 0 and gate.waiting == 0
