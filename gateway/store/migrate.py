"""Applies the numbered migrations in `migrations/` in order, each once, under an advisory lock.

They ship inside the package and are read with importlib.resources, so an installed gateway
finds them wherever it is installed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from importlib import resources
from importlib.abc import Traversable

import structlog

from gateway.store import Connection

MIGRATIONS_DIR: Traversable = resources.files("gateway.store") / "migrations"
_LOCK_KEY = 0x6761746577617931  # any constant shared by every replica
_FILE = re.compile(r"^(\d+)_[\w-]+\.sql$")

log = structlog.get_logger(__name__)


def migration_files(directory: Traversable = MIGRATIONS_DIR) -> list[tuple[int, Traversable]]:
    """(version, path) of every migration, in order."""
    found = []
    for path in directory.iterdir():
        match = _FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, key=lambda item: item[0])


def latest_version(directory: Traversable = MIGRATIONS_DIR) -> int:
    files = migration_files(directory)
    return files[-1][0] if files else 0


async def applied_version(connection: Connection) -> int:
    """The highest migration applied (0 on an empty database)."""
    exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await connection.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


@contextlib.asynccontextmanager
async def migration_lock(connection: Connection) -> AsyncIterator[None]:
    """Hold the lock migrations run under (also taken by start-up steps written in Python)."""
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        yield
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def migrate(connection: Connection, directory: Traversable = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations; return the versions applied. Safe to run from many replicas."""
    async with migration_lock(connection):
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        # Every migration not yet applied, not only those above the highest applied: one that
        # was numbered lower but written later still runs.
        rows = await connection.fetch("SELECT version FROM schema_migrations")
        done = {row["version"] for row in rows}
        applied = []
        for version, path in migration_files(directory):
            if version in done:
                continue
            async with connection.transaction():
                await connection.execute(path.read_text())
                await connection.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)", version
                )
            log.info("migration_applied", version=version, file=path.name)
            applied.append(version)
        return applied
