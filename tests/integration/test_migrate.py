"""Migrations: each runs once, in order, and one numbered lower but written later still runs."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from gateway.store import migrate


async def test_a_migration_numbered_below_the_highest_applied_still_runs(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "100_first.sql").write_text("CREATE TABLE first_table (id int);")
    (tmp_path / "102_third.sql").write_text("CREATE TABLE third_table (id int);")
    connection = await asyncpg.connect(database_url)
    try:
        assert await migrate.migrate(connection, tmp_path) == [100, 102]
        (tmp_path / "101_second.sql").write_text("CREATE TABLE second_table (id int);")
        assert await migrate.migrate(connection, tmp_path) == [101]
        assert await migrate.migrate(connection, tmp_path) == []
        assert await connection.fetchval("SELECT to_regclass('second_table') IS NOT NULL")
    finally:
        await connection.close()
