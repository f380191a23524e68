"""Removing a project with everything it holds, in one transaction."""

from __future__ import annotations

import asyncpg

from gateway.store import sql

_STEPS = (
    "lock_connectors_of_project",
    "delete_project_deliveries",
    "delete_project_events",
    "delete_project_reported",
    "delete_project_push_stats",
    "delete_project_attempts",
    "delete_project_finished_deliveries",
    "delete_project_only_accounts",
    "delete_project",
)


async def delete_project(db: asyncpg.Pool, project_id: str) -> None:
    """Delete the project, its queue, events, statistics, connectors, devices and the service
    accounts that belong to no other project; dispatchers are told its connectors are gone."""
    async with db.acquire() as connection, connection.transaction():
        for step in _STEPS:
            await connection.execute(sql(step), project_id)
        await connection.execute(sql("notify_connector_changed"), project_id)
