"""Checks shared by the API tests: DT's error body, and a snapshot of every table."""

from __future__ import annotations

from typing import Any

import asyncpg

ERROR_KEYS = {"error", "code", "help"}


def assert_error(body: Any, code: int) -> None:
    """`body` is DT's error format for status `code`."""
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["help"], str) and body["help"].startswith("https://"), body


async def snapshot(db: asyncpg.Pool) -> dict[str, list[str]]:
    """Every row of every table of the gateway, in a comparable form."""
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    state = {}
    for table in tables:
        name = table["tablename"]
        rows = await db.fetch(f'SELECT * FROM "{name}"')  # names come from the catalog
        state[name] = sorted(repr(tuple(row.values())) for row in rows)
    return state
