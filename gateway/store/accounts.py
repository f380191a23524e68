"""Service accounts, their keys, access tokens, and what a key may do."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.store import Executor, fetch_one, sql


async def create_project(db: Executor, project_id: str, name: str, now: datetime) -> None:
    await db.execute(sql("create_project"), project_id, name, now)


async def insert_account(
    db: Executor,
    account_id: str,
    project_id: str | None,
    email: str,
    display_name: str,
    basic_auth: bool,
    now: datetime,
) -> asyncpg.Record:
    return await fetch_one(
        db, sql("insert_account"), account_id, project_id, email, display_name, basic_auth, now
    )


async def insert_key(
    db: Executor, key_id: str, account_id: str, secret_sha256: bytes, now: datetime
) -> asyncpg.Record:
    return await fetch_one(db, sql("insert_key"), key_id, account_id, secret_sha256, now)


async def add_member(
    db: Executor, project_id: str, account_id: str, role: str, now: datetime
) -> None:
    """Give an account a role in a project (replacing the one it had)."""
    await db.execute(sql("add_member"), project_id, account_id, role, now)


async def add_organization_member(
    db: Executor, organization_id: str, account_id: str, role: str, now: datetime
) -> None:
    await db.execute(sql("add_organization_member"), organization_id, account_id, role, now)


async def key_for_assertion(db: Executor, key_id: str) -> asyncpg.Record | None:
    """(id, secret_sha256, email) of a key."""
    return await db.fetchrow(sql("key_for_assertion"), key_id)


async def grants_of_key(db: Executor, key_id: str) -> list[asyncpg.Record]:
    """One row per project the key's account holds a role in (see accounts.sql)."""
    return await db.fetch(sql("grants_of_key"), key_id)


async def is_live_project(db: Executor, project_id: str) -> bool:
    return await db.fetchval(sql("live_project"), project_id) is not None


async def key_of_access_token(db: Executor, token_sha256: bytes, now: datetime) -> str | None:
    key_id: str | None = await db.fetchval(sql("key_of_access_token"), token_sha256, now)
    return key_id


async def insert_access_token(
    db: Executor, token_sha256: bytes, key_id: str, expires_at: datetime
) -> None:
    await db.execute(sql("insert_access_token"), token_sha256, key_id, expires_at)


async def delete_expired_access_tokens(db: Executor, now: datetime) -> None:
    await db.execute(sql("delete_expired_access_tokens"), now)


async def list_accounts(
    db: Executor, project_id: str, after: str, limit: int
) -> list[asyncpg.Record]:
    return await db.fetch(sql("list_accounts"), project_id, after, limit)


async def organization_accounts(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(sql("list_organization_accounts"))


async def get_account(db: Executor, project_id: str, account_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("get_account"), project_id, account_id)


async def account_by_id(db: Executor, account_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("account_by_id"), account_id)


async def update_account(
    db: asyncpg.Pool,
    project_id: str,
    account_id: str,
    changes: dict[str, object],
    now: datetime,
) -> asyncpg.Record | None:
    """Set display_name and/or basic_auth from `changes` under a row lock; None if unknown."""
    async with db.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(sql("get_account_for_update"), project_id, account_id)
        if row is None:
            return None
        merged = {"display_name": row["display_name"], "basic_auth": row["basic_auth"], **changes}
        return await fetch_one(
            connection, sql("update_account"), project_id, account_id,
            merged["display_name"], merged["basic_auth"], now,
        )


async def delete_account(
    db: asyncpg.Pool, account_id: str, project_id: str | None = None
) -> tuple[bool, list[str]]:
    """Delete an account (of `project_id` if given) with its keys, tokens and memberships.

    Returns (deleted, projects it is the last administrator of); with such projects, nothing
    is deleted.
    """
    async with db.acquire() as connection, connection.transaction():
        await connection.execute(sql("lock_admins_of_account_projects"), account_id)
        orphaned = [r["project_id"] for r in await connection.fetch(
            sql("projects_left_without_admin"), account_id
        )]
        if orphaned:
            return False, orphaned
        if project_id is None:
            gone = await connection.fetchval(sql("delete_account_by_id"), account_id)
        else:
            gone = await connection.fetchval(sql("delete_account"), project_id, account_id)
        return gone is not None, []


async def list_keys(
    db: Executor, account_id: str, after: str, limit: int
) -> list[asyncpg.Record]:
    return await db.fetch(sql("list_keys"), account_id, after, limit)


async def get_key(db: Executor, account_id: str, key_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("get_key"), account_id, key_id)


async def delete_key(db: Executor, account_id: str, key_id: str) -> bool:
    """Delete a key of an account; its access tokens stop working with it."""
    return await db.fetchval(sql("delete_key"), account_id, key_id) is not None


async def delete_key_by_id(db: Executor, key_id: str) -> asyncpg.Record | None:
    """Delete a key whatever its account: (id, account_id), or None if there is no such key."""
    return await db.fetchrow(sql("delete_key_by_id"), key_id)
