"""The database half of /readyz, checked in the background on a connection of its own.

/readyz then answers from memory at once, however busy the database or the pool is: a probe
with a 1 s timeout must not restart or unlist a gateway that is only working hard.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp import web

from gateway.store import create_pool, migrate

INTERVAL = 1.0  # seconds between two checks: how stale /readyz may be
TIMEOUT = 2.0  # a check that takes longer counts as a failure



def readiness_answer(checks: dict[str, bool]) -> tuple[int, dict[str, object]]:
    """The status and body of /readyz for `checks`: 200 when every one passes, else 503."""
    ready = all(checks.values())
    return (200 if ready else 503), {"status": "ready" if ready else "not ready", "checks": checks}

class DatabaseCheck:
    """Whether the database answers and its migrations are the latest, as last checked."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db
        self.checks = {"database": False, "migrations": False}

    @classmethod
    async def start(cls, database_url: str) -> DatabaseCheck:
        """A check with its own one-connection pool, checked once already."""
        check = cls(await create_pool(database_url, 1))
        await check.check()
        return check

    async def check(self) -> None:
        try:
            async with asyncio.timeout(TIMEOUT), self.db.acquire() as connection:
                version = await migrate.applied_version(connection)
            self.checks = {"database": True, "migrations": version == migrate.latest_version()}
        except Exception:  # any failure at all means "not ready"
            self.checks = {"database": False, "migrations": False}

    async def run(self) -> None:
        """Check again every INTERVAL seconds, until cancelled."""
        while True:
            await asyncio.sleep(INTERVAL)
            await self.check()

    async def close(self) -> None:
        await self.db.close()


DATABASE_CHECK = web.AppKey("database_check", DatabaseCheck)
