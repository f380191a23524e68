"""The web console's sessions, and its read-only overview of a project's push statistics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from gateway.store import Executor, sql

EXPIRED_BATCH = 1000  # expired sessions deleted per sign-in at most


@dataclass(frozen=True)
class Session:
    key_id: str
    csrf_token: str
    expires_at: datetime


@dataclass
class ConnectorActivity:
    """One connector's pushes since the start of a window."""

    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    minutes: list[tuple[datetime, int, int]] = field(default_factory=list)
    buckets: dict[int, int] = field(default_factory=dict)


async def insert_session(
    db: Executor,
    token_sha256: bytes,
    session: Session,
    now: datetime,
) -> None:
    await db.execute(sql("console_delete_expired_sessions"), now, EXPIRED_BATCH)
    await db.execute(
        sql("console_insert_session"),
        token_sha256,
        session.key_id,
        session.csrf_token,
        now,
        session.expires_at,
    )


async def session(db: Executor, token_sha256: bytes, now: datetime) -> Session | None:
    """The unexpired session behind a token's digest, if any."""
    row = await db.fetchrow(sql("console_session"), token_sha256, now)
    if row is None:
        return None
    return Session(row["key_id"], row["csrf_token"], row["expires_at"])


async def delete_session(db: Executor, token_sha256: bytes) -> None:
    await db.execute(sql("console_delete_session"), token_sha256)


async def live_projects(db: Executor) -> list[asyncpg.Record]:
    """(id, display_name) of every project not being deleted (at most 1,000), by name."""
    return await db.fetch(sql("console_live_projects"))


async def project_names(db: Executor, project_ids: list[str]) -> list[asyncpg.Record]:
    """(id, display_name) of these projects, by name."""
    return await db.fetch(sql("console_project_names"), project_ids)


async def activity(
    db: asyncpg.Pool, project_id: str, start: datetime
) -> dict[str, ConnectorActivity]:
    """Every connector of the project, with its pushes per minute and per latency bucket."""
    found: dict[str, ConnectorActivity] = {}
    for row in await db.fetch(sql("console_connector_health"), project_id):
        found[row["id"]] = ConnectorActivity(row["failing_since"], row["last_success_at"])
    # Statistics of a connector deleted meanwhile are left out.
    minutes: defaultdict[str, ConnectorActivity] = defaultdict(ConnectorActivity, found)
    for row in await db.fetch(sql("console_push_minutes"), project_id, start):
        minutes[row["connector_id"]].minutes.append(
            (row["minute"], row["successes"], row["errors"])
        )
    for row in await db.fetch(sql("console_push_buckets"), project_id, start):
        minutes[row["connector_id"]].buckets[row["bucket"]] = row["attempts"]
    return {connector_id: minutes[connector_id] for connector_id in found}
