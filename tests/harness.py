"""The test harness: a gateway app with handles for driving it, accounts, database helpers.

Fixtures in tests/conftest.py build these; tests import them from here.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiohttp.test_utils import TestClient

from gateway.api import auth
from gateway.app import DISPATCHER, REGISTRY
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.dispatch.dispatcher import Dispatcher
from gateway.dispatch.registry import ConnectorRegistry
from gateway.ids import new_id
from gateway.metrics import Metrics
from gateway.store import accounts
from gateway.store.crypto import SecretBox

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# The tests' GATEWAY_SECRET_KEY (base64 of 32 bytes), so no test writes a key file.
TEST_SECRET_KEY = "dGVzdHMtc2VhbC10aGVpci1zZWNyZXRzLXdpdGgtbWU="


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


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

    async def device(
        self, account: Account, device_type: str = "temperature", **labels: str
    ) -> str:
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


def configured(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)
