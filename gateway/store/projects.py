"""The organization, its projects and their members; removing a deleted project's rows."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.store import Executor, fetch_one, sql

# Tables a deleted project's rows are removed from, one batch at a time, in this order: the
# queue first (the dispatcher then finds nothing to push), devices last.
PURGES = ("purge_deliveries", "purge_reported", "purge_events", "purge_push_stats",
          "purge_devices")


async def organization(db: Executor) -> asyncpg.Record:
    """(id, display_name) of the installation's organization (made by the migrations)."""
    return await fetch_one(db, sql("organization"))


async def list_page(
    db: Executor, among: list[str] | None, query: str, after: str, limit: int
) -> list[asyncpg.Record]:
    """Live projects among `among` (None: all) whose name contains `query`, after an id."""
    return await db.fetch(sql("list_projects"), among, query, after, limit)


async def get(db: Executor, project_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("get_project"), project_id)


async def rename(db: Executor, project_id: str, name: str) -> bool:
    return await db.fetchval(sql("rename_project"), project_id, name) is not None


async def mark_deleted(db: asyncpg.Pool, project_id: str, now: datetime) -> bool:
    """Hide a project at once and drop its connectors; its other rows go in `purge`."""
    async with db.acquire() as connection, connection.transaction():
        marked = await connection.fetchval(sql("mark_project_deleted"), project_id, now)
        if marked is None:
            return False
        await connection.execute(sql("delete_project_connectors"), project_id)
        await connection.execute(sql("notify_connector_changed"), project_id)
    return True


async def being_deleted(db: Executor) -> list[str]:
    return [row["id"] for row in await db.fetch(sql("projects_being_deleted"))]


async def purge(db: asyncpg.Pool, project_id: str, batch: int) -> int:
    """Remove a deleted project's rows in batches of `batch`, then the project; rows removed."""
    removed = 0
    for query in PURGES:
        while True:
            status = await db.execute(sql(query), project_id, batch)
            count = int(status.split()[-1])
            removed += count
            if count < batch:
                break
    await db.execute(sql("delete_project_row"), project_id)
    return removed


async def list_members(
    db: Executor, project_id: str, after: str, limit: int
) -> list[asyncpg.Record]:
    return await db.fetch(sql("list_members"), project_id, after, limit)


async def get_member(db: Executor, project_id: str, account_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(sql("get_member"), project_id, account_id)


async def account_by_email(db: Executor, email: str) -> str | None:
    account_id: str | None = await db.fetchval(sql("account_by_email"), email)
    return account_id


async def insert_member(
    db: Executor, project_id: str, email: str, role: str, now: datetime
) -> str | None:
    """The account id added; None when the account is a member already."""
    added: str | None = await db.fetchval(sql("insert_member"), project_id, email, role, now)
    return added


async def change_member(
    db: asyncpg.Pool, project_id: str, account_id: str, role: str | None
) -> str:
    """Set a member's role (None: remove the member) unless that leaves no administrator.

    Returns "done", "missing" (no such member) or "last_admin" (nothing changed).
    """
    async with db.acquire() as connection, connection.transaction():
        admins = {r["account_id"] for r in await connection.fetch(
            sql("lock_project_admins"), project_id
        )}
        if account_id in admins and len(admins) == 1 and role != "roles/project.admin":
            return "last_admin"
        if role is None:
            done = await connection.fetchval(sql("delete_member"), project_id, account_id)
        else:
            done = await connection.fetchval(
                sql("set_member_role"), project_id, account_id, role
            )
        return "missing" if done is None else "done"
