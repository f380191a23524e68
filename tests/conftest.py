"""Fixtures shared by every layer: a real PostgreSQL, a fresh database per test, the gateway.

The server is the one at 127.0.0.1:5432 when it answers (or `GATEWAY_TEST_DATABASE_URL`),
otherwise an embedded one started for the run. Each test gets its own database, cloned from a
template migrated once per worker, so NOTIFY and commits behave exactly as in production.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.api import auth
from gateway.app import DISPATCHER, REGISTRY, create_app
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.dispatch.dispatcher import Dispatcher
from gateway.dispatch.registry import ConnectorRegistry
from gateway.ids import new_id
from gateway.metrics import Metrics
from gateway.store import accounts, create_pool, migrate
from gateway.store.crypto import SecretBox
from tests.receiver import Receiver, TestCA, make_ca, running_receiver

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# The receivers library from this checkout (its distribution root holds the package), ahead of
# the repository root, where `receivers/` would otherwise be read as an empty namespace package.
_RECEIVERS_ROOT = str(Path(__file__).resolve().parents[1] / "receivers")
if _RECEIVERS_ROOT not in sys.path:
    sys.path.insert(0, _RECEIVERS_ROOT)
# The tests' GATEWAY_SECRET_KEY (base64 of 32 bytes), so no test writes a key file.
TEST_SECRET_KEY = "dGVzdHMtc2VhbC10aGVpci1zZWNyZXRzLXdpdGgtbWU="


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server URL whose user may create databases."""
    override = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if override:
        yield override
        return
    if _answers("127.0.0.1", 5432):
        yield LOCAL_SERVER
        return
    from gateway.embedded import EmbeddedPostgres

    base = Path(os.environ.get("GATEWAY_TEST_PGDATA", "/tmp/gateway-test-pg"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = EmbeddedPostgres(base / worker)
    yield server.url
    server.stop()


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """A migrated database to clone, one per test worker."""
    name = f"gw_tpl_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        await _admin(server_url, f'CREATE DATABASE "{name}"')
        connection = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate.migrate(connection)
        finally:
            await connection.close()

    asyncio.run(create())
    yield name
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh database for one test, cloned from the migrated template."""
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    # Durability is the server's job in production; tests trade it for speed.
    yield with_database(server_url, name) + "?synchronous_commit=off"
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


@dataclass
class Account:
    key_id: str
    secret: str
    email: str
    project_id: str

    @property
    def headers(self) -> dict[str, str]:
        raw = f"{self.key_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class Gateway:
    """A running gateway app with its test client and handles for driving it."""

    client: TestClient
    settings: Settings
    clock: ManualClock
    metrics: Metrics

    @property
    def dispatcher(self) -> Dispatcher:
        return self.client.app[DISPATCHER]

    @property
    def registry(self) -> ConnectorRegistry:
        return self.client.app[REGISTRY]

    @property
    def db(self) -> asyncpg.Pool:
        from gateway.api.common import SERVICES

        return self.client.app[SERVICES].db

    @property
    def box(self) -> SecretBox:
        from gateway.api.common import SERVICES

        return self.client.app[SERVICES].box

    async def deliver(self) -> int:
        """Push everything due now; returns the pushes attempted."""
        return await self.dispatcher.run_until_idle()

    async def project(self, role: str = auth.DEVELOPER) -> Account:
        project_id = new_id()
        await accounts.create_project(self.db, project_id, "test", self.clock())
        return await self.account(project_id, role)

    async def account(self, project_id: str, role: str) -> Account:
        credentials = await auth.create_service_account(self.db, project_id, role, self.clock())
        return Account(credentials.key_id, credentials.secret, credentials.email, project_id)

    async def connector(self, account: Account, url: str, **fields: Any) -> dict[str, Any]:
        """Create a connector pushing to `url`; `fields` may add httpConfig keys via http=."""
        http = {"url": url, **fields.pop("http", {})}
        return await self.call(  # type: ignore[no-any-return]
            "POST",
            f"/v2/projects/{account.project_id}/dataconnectors",
            account,
            json={"httpConfig": http, **fields},
        )

    async def device(self, account: Account, device_type: str = "temperature", **labels: str) -> str:
        created = await self.call(
            "POST",
            f"/v2/projects/{account.project_id}/devices",
            account,
            json={"type": device_type, "labels": labels},
        )
        return created["name"].split("/")[-1]  # type: ignore[no-any-return]

    async def publish(
        self, account: Account, device_id: str, data: dict[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        path = f"/v2/projects/{account.project_id}/devices/{device_id}:publish"
        params = {"eventId": event_id} if event_id else {}
        return await self.call("POST", path, account, json=data, params=params)  # type: ignore[no-any-return]

    async def call(
        self, method: str, path: str, account: Account | None, expect: int = 200, **kw: Any
    ) -> Any:
        headers = {**(account.headers if account else {}), **kw.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kw) as response:
            body = await response.json(content_type=None)
            assert response.status == expect, (response.status, body)
            return body


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


def configured(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)
