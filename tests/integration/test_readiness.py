"""/readyz answers from a background check: it follows the database going away and coming back."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import asyncpg

from tests.harness import Gateway


async def readiness(gateway: Gateway) -> tuple[int, dict[str, bool]]:
    async with gateway.client.get("/readyz") as answer:
        return answer.status, (await answer.json())["checks"]


async def wait_for_status(gateway: Gateway, status: int) -> dict[str, bool]:
    deadline = time.monotonic() + 15
    while True:
        found, checks = await readiness(gateway)
        if found == status:
            return checks
        assert time.monotonic() < deadline, (found, checks)
        await asyncio.sleep(0.05)


async def test_readyz_follows_the_database(
    gateway: Gateway, database_url: str, server_url: str
) -> None:
    assert await readiness(gateway) == (200, {"database": True, "migrations": True})
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        assert await wait_for_status(gateway, 503) == {"database": False, "migrations": False}
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert await wait_for_status(gateway, 200) == {"database": True, "migrations": True}
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
