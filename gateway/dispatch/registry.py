"""The connector registry: each project's connectors cached in memory for the pushers.

PostgreSQL stays the source of truth: a project's connectors are loaded when first needed and
dropped whenever the listener hears that they changed, or lost its connection.
"""

from __future__ import annotations

import asyncio

import asyncpg

from gateway.model import ACTIVE, Connector
from gateway.store import connectors
from gateway.store.crypto import SecretBox


class ConnectorRegistry:
    """Connectors by project, loaded on first use and dropped when they change."""

    def __init__(self, db: asyncpg.Pool, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self._projects: dict[str, dict[str, Connector]] = {}
        self._generation: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, project_id: str, connector_id: str) -> Connector | None:
        return (await self.of_project(project_id)).get(connector_id)

    def cached_active(self, project_id: str, connector_id: str) -> Connector | None:
        """The connector if the cache holds it as ACTIVE; None means "ask `active()`"."""
        project = self._projects.get(project_id)
        connector = project.get(connector_id) if project is not None else None
        return connector if connector is not None and connector.status == ACTIVE else None

    async def active(self, project_id: str, connector_id: str) -> Connector | None:
        """The connector if it is ACTIVE. A cache that says otherwise is checked against the
        database first: it may predate the change (not yet notified) that queued a delivery."""
        cached = await self.get(project_id, connector_id)
        if cached is not None and cached.status == ACTIVE:
            return cached
        # One row, not the whole project: the queue of a connector that is really gone asks
        # this for each of its last deliveries.
        fresh = await connectors.get(self._db, self._box, project_id, connector_id)
        if fresh != cached:
            self.invalidate(project_id)
        return fresh if fresh is not None and fresh.status == ACTIVE else None

    async def of_project(self, project_id: str) -> dict[str, Connector]:
        cached = self._projects.get(project_id)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:
            cached = self._projects.get(project_id)
            if cached is not None:
                return cached
            # Registered before reading, so that invalidating every project also covers this one.
            generation = self._generation.setdefault(project_id, 0)
            loaded = {c.id: c for c in await connectors.of_project(self._db, self._box, project_id)}
            # A change that arrived while loading may not be in what was read: don't keep it.
            if self._generation.get(project_id, 0) == generation:
                self._projects[project_id] = loaded
            return loaded

    def invalidate(self, project_id: str | None = None) -> None:
        """Forget one project's connectors, or every project's."""
        if project_id is None:
            self._projects.clear()
            self._generation = {p: g + 1 for p, g in self._generation.items()}
        else:
            self._projects.pop(project_id, None)
            self._generation[project_id] = self._generation.get(project_id, 0) + 1

    def __len__(self) -> int:
        return sum(len(project) for project in self._projects.values())
