"""The real gateway process under load: killed with SIGKILL, or stopped with SIGTERM.

Every event the gateway acknowledged must reach the receiver at least once.
"""

from __future__ import annotations

import asyncio
import base64
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from tests.e2e.processes import GatewayProcess, admin, gateway_env
from tests.receiver import Answer, Receiver, running_receiver

pytestmark = pytest.mark.slow
BATCH = 50


@pytest_asyncio.fixture
async def slow_receiver() -> AsyncIterator[Receiver]:
    """A receiver that takes a little while per push, so pushes are in flight at any moment."""
    async with running_receiver(None) as receiver:
        receiver.script("/hook", Answer(200, delay=0.02))
        yield receiver


class Publisher:
    """Publishes batches through the API and remembers every acknowledged event id."""

    def __init__(self, env: dict[str, str], receiver: Receiver) -> None:
        project = admin(env, "create-project", "--name", "crash")["projectId"]
        account = admin(env, "create-service-account", "--project", project)
        token = base64.b64encode(f"{account['keyId']}:{account['secret']}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.project = project
        self.receiver = receiver
        self.acknowledged: set[str] = set()
        self.device = ""

    async def prepare(self, base_url: str) -> None:
        async with aiohttp.ClientSession(base_url, headers=self.headers) as client:
            hook = {"httpConfig": {"url": self.receiver.url("/hook")}}
            async with client.post(f"/v2/projects/{self.project}/dataconnectors", json=hook) as r:
                assert r.status == 200, await r.text()
            device = {"type": "temperature", "labels": {}}
            async with client.post(f"/v2/projects/{self.project}/devices", json=device) as r:
                self.device = (await r.json())["name"].split("/")[-1]

    async def publish(self, base_url: str, batches: int) -> None:
        """Publish until `batches` are sent or the gateway stops answering."""
        events = {"events": [
            {"device": self.device, "data": {"temperature": {"value": 20.0}}}
        ] * BATCH}
        path = f"/v2/projects/{self.project}/devices:publishBatch"
        async with aiohttp.ClientSession(base_url, headers=self.headers) as client:
            for _ in range(batches):
                try:
                    async with client.post(path, json=events) as answer:
                        if answer.status != 200:
                            return
                        body = await answer.json()
                except aiohttp.ClientError:
                    return
                self.acknowledged.update(event["eventId"] for event in body["events"])

    def missing(self) -> set[str]:
        return self.acknowledged - {r.event_id for r in self.receiver.at("/hook")}


async def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_sigkill_under_load_loses_no_acknowledged_event(
    database_url: str, slow_receiver: Receiver, tmp_path: Path
) -> None:
    env = gateway_env(database_url, lease="3", push_timeout="1", poll_interval="0.2")
    publisher = Publisher(env, slow_receiver)
    first = await asyncio.to_thread(GatewayProcess(env, tmp_path / "first.log").start)
    try:
        await publisher.prepare(first.url)
        await publisher.publish(first.url, batches=20)
        # Kill while the last pushes are in flight and most of the queue is still waiting.
        await wait_until(lambda: len(slow_receiver.received) > 20, 30, "the first pushes")
        await asyncio.to_thread(first.kill)
    finally:
        first.stop()
    delivered_before = len(slow_receiver.received)
    assert delivered_before < len(publisher.acknowledged), "the kill came after all was pushed"

    second = await asyncio.to_thread(GatewayProcess(env, tmp_path / "second.log").start)
    try:
        await publisher.publish(second.url, batches=2)
        await wait_until(lambda: not publisher.missing(), 60, "every acknowledged event")
    finally:
        second.stop()
    received = [r.event_id for r in slow_receiver.at("/hook")]
    duplicates = len(received) - len(set(received))
    print(f"acknowledged {len(publisher.acknowledged)}, pushes {len(received)}, "
          f"duplicates {duplicates}")
    assert publisher.missing() == set()


async def test_sigterm_finishes_in_flight_and_releases_leases(
    database_url: str, slow_receiver: Receiver, tmp_path: Path
) -> None:
    env = gateway_env(database_url, lease="600", shutdown_timeout="5")
    publisher = Publisher(env, slow_receiver)
    gateway = await asyncio.to_thread(GatewayProcess(env, tmp_path / "gateway.log").start)
    try:
        await publisher.prepare(gateway.url)
        await publisher.publish(gateway.url, batches=10)
        await wait_until(lambda: len(slow_receiver.received) > 10, 30, "the first pushes")
        gateway.signal(signal.SIGTERM)
        assert await asyncio.to_thread(gateway.wait, 30) == 0
    finally:
        gateway.stop()

    # Nothing is left leased: with a 10-minute lease, a held delivery would sit until then.
    connection = await asyncpg.connect(database_url)
    try:
        held = await connection.fetchval("SELECT count(*) FROM deliveries WHERE due_at > now()")
        waiting = await connection.fetchval("SELECT count(*) FROM deliveries")
    finally:
        await connection.close()
    assert held == 0
    assert waiting > 0, "the stop came after everything was pushed"

    restarted = await asyncio.to_thread(GatewayProcess(env, tmp_path / "again.log").start)
    try:
        await wait_until(lambda: not publisher.missing(), 60, "every acknowledged event")
    finally:
        restarted.stop()
    assert '"leases_released": 0' not in gateway.logs(), "nothing was waiting in a lane"
    assert "dispatcher_stopped" in gateway.logs()


async def test_sigterm_during_a_publish_burst_pushes_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    """Every outcome is written before any lease is handed back: after a restart, no event
    that was pushed before the stop is pushed again."""
    # A long lease: only a delivery handed back could be pushed again within this test.
    env = gateway_env(database_url, lease="600", shutdown_timeout="5", poll_interval="0.2")
    async with running_receiver(None) as receiver:
        receiver.script("/hook", Answer(200, delay=0.002))
        publisher = Publisher(env, receiver)
        gateway = await asyncio.to_thread(GatewayProcess(env, tmp_path / "gateway.log").start)
        try:
            await publisher.prepare(gateway.url)
            burst = asyncio.create_task(publisher.publish(gateway.url, batches=400))
            await wait_until(lambda: len(receiver.received) > 300, 30, "pushes under load")
            gateway.signal(signal.SIGTERM)
            assert await asyncio.to_thread(gateway.wait, 30) == 0
            await burst
        finally:
            gateway.stop()
        pushed_before = len(receiver.received)
        assert pushed_before < len(publisher.acknowledged), "the stop came after every push"

        restarted = await asyncio.to_thread(GatewayProcess(env, tmp_path / "again.log").start)
        try:
            await wait_until(lambda: not publisher.missing(), 60, "every acknowledged event")
        finally:
            restarted.stop()
        received = [r.event_id for r in receiver.at("/hook")]
    assert len(received) - len(set(received)) == 0
    assert "dispatcher_stopped" in gateway.logs()
