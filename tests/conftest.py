"""Fixtures shared by every layer: a real PostgreSQL, a fresh database per test, the gateway.

The server is the one at 127.0.0.1:5432 when it answers (or `GATEWAY_TEST_DATABASE_URL`),
otherwise an embedded one started for the run. Each test gets its own database, cloned from a
template migrated once per worker, so NOTIFY and commits behave exactly as in production.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.store import create_pool, migrate
from tests.harness import (
    LOCAL_SERVER,
    TEST_SECRET_KEY,
    Gateway,
    admin,
    answers,
    with_database,
)
from tests.receiver import Receiver, TestCA, make_ca, running_receiver

# The receivers library from this checkout (its distribution root holds the package), ahead of
# the repository root, where `receivers/` would otherwise be read as an empty namespace package.
_RECEIVERS_ROOT = str(Path(__file__).resolve().parents[1] / "receivers")
if _RECEIVERS_ROOT not in sys.path:
    sys.path.insert(0, _RECEIVERS_ROOT)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server URL whose user may create databases."""
    override = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if override:
        yield override
        return
    if answers("127.0.0.1", 5432):
        yield LOCAL_SERVER
        return
    from gateway.embedded import EmbeddedPostgres

    base = Path(os.environ.get("GATEWAY_TEST_PGDATA", "/tmp/gateway-test-pg"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = EmbeddedPostgres(base / worker)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """A migrated database to clone, one per test worker."""
    name = f"gw_tpl_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        await admin(server_url, f'CREATE DATABASE "{name}"')
        connection = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate.migrate(connection)
        finally:
            await connection.close()

    asyncio.run(create())
    yield name
    asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh database for one test, cloned from the migrated template."""
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    # Durability is the server's job in production; tests trade it for speed.
    yield with_database(server_url, name) + "?synchronous_commit=off"
    asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest_asyncio.fixture
async def receiver(test_ca: TestCA) -> AsyncIterator[Receiver]:
    """A real HTTPS receiver with a certificate from the test CA."""
    async with running_receiver(test_ca) as running:
        yield running


@pytest.fixture
def settings(database_url: str, test_ca: TestCA) -> Settings:
    """Settings for an in-process gateway whose dispatcher the test drives itself."""
    return Settings(
        database_url=database_url,
        allow_insecure_targets=True,
        ca_bundle=str(test_ca.bundle),
        dispatcher=False,
        push_timeout=2.0,
        pool_size=5,
        secret_key=TEST_SECRET_KEY,
    )


@pytest_asyncio.fixture
async def gateway(settings: Settings, clock: ManualClock) -> AsyncIterator[Gateway]:
    metrics = Metrics()
    app = create_app(settings, clock=clock, metrics=metrics)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Gateway(client, settings, clock, metrics)
    finally:
        await client.close()


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    db = await create_pool(database_url, 3)
    yield db
    await db.close()
