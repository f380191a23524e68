"""The recorder alone, without PostgreSQL: batches flushed on size or time, kept on failure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gateway.dispatch.recorder import Recorder
from gateway.store.deliveries import Attempt, ConnectorKey, OutcomeBatch

NOW = datetime(2026, 1, 1, tzinfo=UTC)
KEY = ("p", "c")


def attempt(delivery_id: int, status: int | None = 200) -> Attempt:
    return Attempt(delivery_id, "p", "c", f"e{delivery_id}", "touch", "d", 1, NOW, 0.01, status)


class Store:
    """Collects written batches; fails the next `failures` writes with `error`."""

    def __init__(self) -> None:
        self.batches: list[OutcomeBatch] = []
        self.failures = 0
        self.error: BaseException = OSError("database away")
        self.written: list[OutcomeBatch] = []
        self.disabled: list[ConnectorKey] = []

    async def write(self, batch: OutcomeBatch) -> list[ConnectorKey]:
        await asyncio.sleep(0)
        if self.failures:
            self.failures -= 1
            raise self.error
        self.batches.append(batch)
        return list(self.disabled)

    def on_written(self, batch: OutcomeBatch, disabled: list[ConnectorKey]) -> None:
        self.written.append(batch)


async def eventually(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_full_batch_is_written_at_once() -> None:
    store = Store()
    recorder = Recorder(store.write, store.on_written, max_batch=3, interval=3600)
    recorder.start()
    for delivery in (1, 2):
        recorder.add_attempt(attempt(delivery))
    await asyncio.sleep(0.05)
    assert store.batches == []  # neither full nor due
    recorder.add_settled(3)
    await eventually(lambda: len(store.batches) == 1)
    assert store.batches[0].delivery_ids() == [1, 2, 3]
    assert recorder.pending == 0
    assert await recorder.close(1.0)


async def test_a_partial_batch_is_written_after_the_interval() -> None:
    store = Store()
    recorder = Recorder(store.write, store.on_written, max_batch=100, interval=0.02)
    recorder.start()
    recorder.add_attempt(attempt(1, status=500))
    recorder.add_deferred(KEY, 2)
    await eventually(lambda: len(store.batches) == 1)
    assert [a.ok for a in store.batches[0].attempts] == [False]
    assert store.batches[0].deferred == {KEY: [2]}
    assert store.written == store.batches
    assert await recorder.close(1.0)


async def test_a_failed_write_is_kept_in_front_of_newer_outcomes() -> None:
    store = Store()
    store.failures = 1
    recorder = Recorder(store.write, store.on_written, max_batch=100, interval=3600)
    recorder.add_attempt(attempt(1))
    with pytest.raises(OSError):
        await recorder.flush()
    assert store.written == []  # nothing reported as written
    recorder.add_attempt(attempt(2))
    recorder.add_settled(3)
    assert recorder.pending == 3
    await recorder.flush()
    (batch,) = store.batches
    assert [a.delivery_id for a in batch.attempts] == [1, 2]
    assert batch.settled == [3]


async def test_the_background_loop_survives_failed_writes_and_retries() -> None:
    store = Store()
    store.failures = 2
    recorder = Recorder(
        store.write, store.on_written, max_batch=1, interval=0.01, pause_after_error=0.01
    )
    recorder.start()
    recorder.add_attempt(attempt(1))
    await eventually(lambda: len(store.batches) == 1)
    assert store.batches[0].delivery_ids() == [1]
    assert await recorder.close(1.0)


async def test_close_waits_for_a_write_in_progress_and_writes_the_rest() -> None:
    store = Store()
    entered, proceed = asyncio.Event(), asyncio.Event()

    async def slow_write(batch: OutcomeBatch) -> list[ConnectorKey]:
        entered.set()
        await proceed.wait()
        return await store.write(batch)

    recorder = Recorder(slow_write, store.on_written, max_batch=1, interval=3600)
    recorder.start()
    recorder.add_attempt(attempt(1))
    await entered.wait()
    recorder.add_attempt(attempt(2))  # gathered while the first write runs
    closing = asyncio.create_task(recorder.close(5.0))
    await asyncio.sleep(0.02)
    assert not closing.done()  # the first write is still running
    proceed.set()
    assert await closing
    assert [b.delivery_ids() for b in store.written] == [[1], [2]]


async def test_close_gives_up_at_its_deadline_and_keeps_the_outcomes() -> None:
    store = Store()
    store.failures = 1000
    recorder = Recorder(
        store.write, store.on_written, max_batch=100, interval=3600, pause_after_error=0.01
    )
    recorder.add_attempt(attempt(1))
    assert not await recorder.close(0.05)
    assert recorder.pending == 1
    assert store.written == []
