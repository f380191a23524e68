"""Projects, service accounts, memberships and access tokens."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.store import sql


async def create_project(db: asyncpg.Pool, project_id: str, name: str, now: datetime) -> None:
    await db.execute(sql("create_project"), project_id, name, now)


async def create_service_account(
    db: asyncpg.Pool, key_id: str, email: str, secret_sha256: bytes, now: datetime
) -> None:
    await db.execute(sql("create_service_account"), key_id, email, secret_sha256, now)


async def add_member(db: asyncpg.Pool, project_id: str, key_id: str, role: str) -> None:
    await db.execute(sql("add_member"), project_id, key_id, role)


async def service_account(db: asyncpg.Pool, key_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("service_account"), key_id)


async def roles_by_key(db: asyncpg.Pool, key_id: str) -> list[asyncpg.Record]:
    """One row per membership (one row with NULL project if none); no rows: unknown key."""
    return await db.fetch(sql("roles_by_key"), key_id)


async def roles_by_access_token(
    db: asyncpg.Pool, token_sha256: bytes, now: datetime
) -> list[asyncpg.Record]:
    return await db.fetch(sql("roles_by_access_token"), token_sha256, now)


async def insert_access_token(
    db: asyncpg.Pool, token_sha256: bytes, key_id: str, expires_at: datetime
) -> None:
    await db.execute(sql("insert_access_token"), token_sha256, key_id, expires_at)


async def delete_expired_access_tokens(db: asyncpg.Pool, now: datetime) -> None:
    await db.execute(sql("delete_expired_access_tokens"), now)
