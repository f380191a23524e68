"""Small helpers shared by the delivery tests."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import METRICS, SETTINGS, create_app
from tests.harness import TEST_SECRET_KEY, Account, Gateway
from tests.receiver import Received


def payload(push: Received) -> Any:
    """A push's JSON body, for reading without type noise."""
    return orjson.loads(push.body)


def connector_id(resource: dict[str, Any]) -> str:
    return str(resource["name"]).rsplit("/", 1)[-1]


async def dump(gateway: Gateway) -> str:
    """Every table's rows as `pg_dump --data-only` writes them: what a backup would hold."""
    url = (gateway.settings.database_url or "").split("?")[0]
    done = await asyncio.to_thread(
        subprocess.run, ["pg_dump", "--data-only", url], capture_output=True, check=True, text=True
    )
    return done.stdout


@contextlib.asynccontextmanager
async def restarted(gateway: Gateway, secret_key: str = TEST_SECRET_KEY) -> AsyncIterator[Gateway]:
    """The gateway started again on the same database, as after a deploy."""
    app = create_app(replace(gateway.settings, secret_key=secret_key), clock=gateway.clock)
    async with TestClient(TestServer(app)) as client:
        yield Gateway(client, app[SETTINGS], gateway.clock, app[METRICS])


async def queued(gateway: Gateway, connector: str | None = None) -> int:
    """Deliveries still queued, for one connector or for all."""
    if connector is None:
        return int(await gateway.db.fetchval("SELECT count(*) FROM deliveries"))
    return int(
        await gateway.db.fetchval(
            "SELECT count(*) FROM deliveries WHERE connector_id = $1", connector
        )
    )


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, step: float = 0.02
) -> None:
    """Wait until `condition` holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(step)


async def patch_connector(
    gateway: Gateway, account: Account, connector: str, body: dict[str, Any]
) -> dict[str, Any]:
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}"
    return await gateway.call("PATCH", path, account, json=body)  # type: ignore[no-any-return]


async def get_connector(gateway: Gateway, account: Account, connector: str) -> dict[str, Any]:
    path = f"/v2/projects/{account.project_id}/dataconnectors/{connector}"
    return await gateway.call("GET", path, account)  # type: ignore[no-any-return]


async def publish_batch(
    gateway: Gateway, account: Account, events: list[dict[str, Any]]
) -> dict[str, Any]:
    path = f"/v2/projects/{account.project_id}/devices:publishBatch"
    return await gateway.call("POST", path, account, json={"events": events})  # type: ignore[no-any-return]


async def relabel(
    gateway: Gateway,
    account: Account,
    devices: list[str],
    add: dict[str, str] | None = None,
    remove: list[str] | None = None,
) -> dict[str, Any]:
    names = [f"projects/{account.project_id}/devices/{device}" for device in devices]
    body = {"devices": names, "addLabels": add or {}, "removeLabels": remove or []}
    path = f"/v2/projects/{account.project_id}/devices:batchUpdate"
    return await gateway.call("POST", path, account, json=body)  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def black_hole() -> AsyncIterator[str]:
    """A base URL whose server accepts connections and never answers (not even TLS)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://localhost:{port}"
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()
