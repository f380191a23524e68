"""Gateway processes under faults: replicas sharing one database, and PostgreSQL restarted.

Every event the gateway acknowledged must reach the receiver, and what could not be
acknowledged must be refused clearly and quickly.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from tests.e2e.postgres import PrivatePostgres
from tests.e2e.processes import GatewayProcess, admin, gateway_env
from tests.receiver import Answer, Receiver, running_receiver

pytestmark = pytest.mark.slow
BATCH = 50
ANSWER_WITHIN = 5.0  # seconds a publish may take, even while the database is away
LEASE = 30
ERROR_KEYS = {"error", "code", "help"}
_SUCCESSES = re.compile(r'^gateway_push_attempts_total\{outcome="success"\} (\S+)$', re.MULTILINE)


@dataclass
class Refusal:
    """A publish that was not acknowledged, as the client saw it."""

    status: int | None  # None: no answer at all within ANSWER_WITHIN
    elapsed: float
    retry_after: str | None = None
    body: object = None


@dataclass
class Tally:
    """Every publish's fate."""

    acknowledged: set[str] = field(default_factory=set)
    refusals: list[Refusal] = field(default_factory=list)


class Publisher:
    """A project with connectors at `paths` of the receiver and a device, and publishes to it."""

    def __init__(self, env: dict[str, str], receiver: Receiver, paths: tuple[str, ...]) -> None:
        self.project = admin(env, "create-project", "--name", "faults")["projectId"]
        account = admin(env, "create-service-account", "--project", self.project)
        token = base64.b64encode(f"{account['keyId']}:{account['secret']}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.receiver = receiver
        self.paths = paths
        self.device = ""
        self.tally = Tally()

    def client(self, base_url: str) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN)
        return aiohttp.ClientSession(base_url, headers=self.headers, timeout=timeout)

    async def prepare(self, base_url: str) -> None:
        async with self.client(base_url) as client:
            for path in self.paths:
                hook = {"httpConfig": {"url": self.receiver.url(path)}}
                path = f"/v2/projects/{self.project}/dataconnectors"
                async with client.post(path, json=hook) as r:
                    assert r.status == 200, await r.text()
            device = {"type": "temperature", "labels": {}}
            async with client.post(f"/v2/projects/{self.project}/devices", json=device) as r:
                assert r.status == 200, await r.text()
                self.device = (await r.json())["name"].rsplit("/", 1)[-1]

    async def publish(self, client: aiohttp.ClientSession) -> bool:
        """One batch; True when it was acknowledged."""
        event = {"device": self.device, "data": {"temperature": {"value": 20}}}
        events = {"events": [event] * BATCH}
        started = time.monotonic()
        try:
            async with client.post(f"/v2/projects/{self.project}/devices:publishBatch",
                                   json=events) as answer:
                body = await answer.json(content_type=None)
        except TimeoutError:
            self.tally.refusals.append(Refusal(None, time.monotonic() - started))
            return False
        if answer.status != 200:
            refusal = Refusal(answer.status, time.monotonic() - started,
                              answer.headers.get("Retry-After"), body)
            self.tally.refusals.append(refusal)
            return False
        self.tally.acknowledged.update(event["eventId"] for event in body["events"])
        return True

    def missing(self, path: str) -> set[str]:
        return self.tally.acknowledged - {r.event_id for r in self.receiver.at(path)}

    def duplicates(self) -> int:
        counts = Counter((r.path, r.event_id) for r in self.receiver.received)
        return sum(count - 1 for count in counts.values())


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def start_all(processes: list[GatewayProcess]) -> None:
    await asyncio.gather(*(asyncio.to_thread(process.start) for process in processes))


async def successes(process: GatewayProcess) -> float:
    """The process's own count of successful pushes, from its /metrics."""
    async with aiohttp.ClientSession() as client, client.get(process.url + "/metrics") as answer:
        text = await answer.text()
    match = _SUCCESSES.search(text)
    assert match is not None, text
    return float(match.group(1))


@pytest_asyncio.fixture
async def quick_receiver() -> AsyncIterator[Receiver]:
    async with running_receiver(None) as receiver:
        yield receiver


# -- replicas ---------------------------------------------------------------------------------


async def test_three_replicas_share_the_work(
    database_url: str, quick_receiver: Receiver, tmp_path: Path
) -> None:
    env = gateway_env(database_url, poll_interval="0.2")
    publisher = Publisher(env, quick_receiver, ("/a", "/b"))
    replicas = [GatewayProcess(env, tmp_path / f"replica-{n}.log") for n in range(3)]
    try:
        await start_all(replicas)
        await publisher.prepare(replicas[0].url)

        async def publish_through(replica: GatewayProcess, batches: int) -> None:
            async with publisher.client(replica.url) as client:
                for _ in range(batches):
                    assert await publisher.publish(client), publisher.tally.refusals[-1]

        await asyncio.gather(*(publish_through(replica, 14) for replica in replicas))
        await wait_until(
            lambda: not publisher.missing("/a") and not publisher.missing("/b"),
            60,
            "every acknowledged event at both connectors",
        )
        pushed = [await successes(replica) for replica in replicas]
    finally:
        for replica in replicas:
            replica.stop()

    total = len(quick_receiver.received)
    duplicates = publisher.duplicates()
    print(f"acknowledged {len(publisher.tally.acknowledged)} events, {total} pushes, "
          f"{duplicates} duplicates, pushes per replica {pushed}")
    assert len(publisher.tally.acknowledged) == 3 * 14 * BATCH
    assert duplicates < 0.01 * total
    assert all(count > 0 for count in pushed), pushed
    assert sum(pushed) >= total - duplicates


# -- PostgreSQL restarted ---------------------------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


async def create_database(server: PrivatePostgres, name: str) -> str:
    connection = await asyncpg.connect(server.url())
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server.url(name)


class LoadDuringOutage:
    """Publishes in a loop until stopped, pacing itself only after a refusal."""

    def __init__(self, publisher: Publisher, base_url: str) -> None:
        self._publisher = publisher
        self._base_url = base_url
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoadDuringOutage:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        async with self._publisher.client(self._base_url) as client:
            while not self._stop.is_set():
                if not await self._publisher.publish(client):
                    await asyncio.sleep(0.1)  # the client's own pause before trying again


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_the_gateway_rides_out_a_database_restart(
    private_postgres: PrivatePostgres, quick_receiver: Receiver, tmp_path: Path, mode: str
) -> None:
    url = await create_database(private_postgres, "gateway")
    env = gateway_env(url, poll_interval="0.2", lease=str(LEASE))
    publisher = Publisher(env, quick_receiver, ("/hook",))
    gateway = GatewayProcess(env, tmp_path / "gateway.log")
    quick_receiver.script("/hook", Answer(200, delay=0.005))
    tally = publisher.tally
    try:
        await start_all([gateway])
        await publisher.prepare(gateway.url)
        async with LoadDuringOutage(publisher, gateway.url):
            await wait_until(lambda: len(quick_receiver.received) > 200, 30, "pushes under load")
            await asyncio.to_thread(private_postgres.stop, mode)
            await wait_until(lambda: len(tally.refusals) >= 5, 30, "publishes refused")
            await asyncio.to_thread(private_postgres.start)
            acknowledged = len(tally.acknowledged)
            await wait_until(
                lambda: len(tally.acknowledged) >= acknowledged + 5 * BATCH,
                30,
                "publishes acknowledged again",
            )
        # Well within a lease: no delivery may have to wait for its lease to end.
        await wait_until(
            lambda: not publisher.missing("/hook"), LEASE / 2, "every acknowledged event"
        )
        # The listener notices a lost connection by itself, on its own schedule.
        await wait_until(
            lambda: gateway.logs().count('"listener_connected"') >= 2,
            30,
            "the listener reconnected",
        )
    finally:
        gateway.stop()

    print(f"acknowledged {len(tally.acknowledged)}, refused {len(tally.refusals)}, "
          f"pushes {len(quick_receiver.received)}, duplicates {publisher.duplicates()}")
    for refusal in tally.refusals:
        assert refusal.status == 503, refusal
        assert refusal.elapsed < ANSWER_WITHIN, refusal
        assert refusal.retry_after is not None and refusal.retry_after.isdigit(), refusal
        assert isinstance(refusal.body, dict) and set(refusal.body) == ERROR_KEYS, refusal
        assert refusal.body["code"] == 503, refusal
    logs = gateway.logs()
    assert '"request_failed"' not in logs
