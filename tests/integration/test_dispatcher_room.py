"""A running dispatcher whose pushers are all taken: it waits for room, it does not spin."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.config import Settings
from tests.harness import Gateway, configured
from tests.integration.support import black_hole, eventually


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # One pusher: a claim needs room for one more than is admitted, and two admitted leave none.
    return configured(
        settings, dispatcher=True, poll_interval=60.0, push_concurrency=1, push_timeout=10.0,
        shutdown_timeout=0.2,
    )  # fmt: skip


async def test_work_signalled_without_room_waits_for_room(gateway: Gateway) -> None:
    dispatcher = gateway.dispatcher
    account = await gateway.project()
    device = await gateway.device(account)
    async with black_hole() as dead_url:
        for n in range(2):
            await gateway.connector(account, f"{dead_url}/{n}")
        await gateway.publish(account, device, {"temperature": {"value": 1}})
        await eventually(lambda: dispatcher.hand_off_room(gateway.clock()) is None)
        dispatcher.wake()  # what a NOTIFY does
        used = time.process_time()
        await asyncio.sleep(0.5)
        assert time.process_time() - used < 0.1  # a claim loop spinning takes the whole time
