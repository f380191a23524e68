"""All database access: named SQL blocks from the `.sql` files here, and the connection pool.

Nothing outside this package writes SQL.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# A connection taken from a pool, or one of its own: both run queries the same way.
Connection = asyncpg.Connection | PoolConnectionProxy
# Anything that runs a query: a pool (one connection per call) or a connection.
Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

QUERIES_DIR = Path(__file__).parent  # queries.sql, and one <aggregate>.sql per newer aggregate
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of `-- name: x` blocks into {name: sql}."""
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def queries() -> dict[str, str]:
    """The runtime queries of every `.sql` file beside this module, read once."""
    found: dict[str, str] = {}
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        blocks = parse_queries(path.read_text())
        twice = sorted(set(found) & set(blocks))
        if twice:
            raise ValueError(f"{path.name}: queries {twice} are defined twice")
        found.update(blocks)
    return found


def sql(name: str) -> str:
    """One named query."""
    return queries()[name]


async def fetch_one(db: Executor, query: str, *args: object) -> asyncpg.Record:
    """The one row a statement always returns (an INSERT … RETURNING, an aggregate)."""
    row = await db.fetchrow(query, *args)
    assert row is not None, "the statement returned no row"
    return row


async def _init_connection(connection: asyncpg.Connection) -> None:
    # jsonb's binary format is a version byte followed by the JSON text.
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: b"\x01" + orjson.dumps(value),
        decoder=lambda data: orjson.loads(data[1:]),
        format="binary",
    )


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is, without asyncpg's reset round trip.

    No query leaves session state behind (migrate unlocks its advisory lock). And a reset that
    fails because the server just went away makes asyncpg drop the result of a statement that
    did run: a claim's rows then stay leased until the lease ends, a stored publish is answered
    503.
    """


async def create_pool(dsn: str, size: int, **options: Any) -> asyncpg.Pool:
    """A pool whose connections speak jsonb as Python values."""
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, init=_init_connection, reset=_keep_session, **options
    )
    assert pool is not None
    return pool
