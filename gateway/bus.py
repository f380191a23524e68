"""The in-process side of the event bus: each project's connectors cached in memory, refreshed
by PostgreSQL notifications so every replica sees an edit at once, and the listener that wakes
the dispatcher when deliveries are queued.

PostgreSQL stays the source of truth: a project's connectors are loaded when first needed, and
every cache entry is dropped whenever the listener's connection was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from gateway.connectors import ACTIVE, Connector
from gateway.store import Connection, connectors

CONNECTORS_CHANNEL = "gateway_connectors"
DELIVERIES_CHANNEL = "gateway_deliveries"

log = structlog.get_logger(__name__)


class ConnectorRegistry:
    """Connectors by project, loaded on first use and dropped when they change."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db
        self._projects: dict[str, dict[str, Connector]] = {}
        self._generation: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, project_id: str, connector_id: str) -> Connector | None:
        return (await self.of_project(project_id)).get(connector_id)

    async def active(self, project_id: str, connector_id: str) -> Connector | None:
        """The connector if it is ACTIVE. A cache that says otherwise is checked against the
        database first: it may predate the change (not yet notified) that queued a delivery."""
        cached = await self.get(project_id, connector_id)
        if cached is not None and cached.status == ACTIVE:
            return cached
        # One row, not the whole project: the queue of a connector that is really gone asks
        # this for each of its last deliveries.
        fresh = await connectors.get(self._db, project_id, connector_id)
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
            loaded = {c.id: c for c in await connectors.of_project(self._db, project_id)}
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


class Listener:
    """A dedicated connection that LISTENs, reconnecting by itself when it is lost."""

    def __init__(
        self,
        dsn: str,
        registry: ConnectorRegistry,
        on_deliveries: Callable[[], None],
        retry_delay: float = 1.0,
    ) -> None:
        self._dsn = dsn
        self._registry = registry
        self._on_deliveries = on_deliveries
        self._retry_delay = retry_delay
        self.connected = asyncio.Event()

    def _notified(self, _c: Connection, _pid: int, channel: str, payload: object) -> None:
        if channel == CONNECTORS_CHANNEL:
            self._registry.invalidate(str(payload))
        else:
            self._on_deliveries()

    async def run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("listener_disconnected", error=type(error).__name__)
            self.connected.clear()
            await asyncio.sleep(self._retry_delay)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c: lost.set())
        try:
            await connection.add_listener(CONNECTORS_CHANNEL, self._notified)
            await connection.add_listener(DELIVERIES_CHANNEL, self._notified)
            # Anything may have changed while no one listened.
            self._registry.invalidate()
            self._on_deliveries()
            self.connected.set()
            log.info("listener_connected")
            await _until_lost(connection, lost)
        finally:
            await connection.close(timeout=2)


async def _until_lost(connection: asyncpg.Connection, lost: asyncio.Event) -> None:
    """Wait for the connection to drop, checking it now and then (a dead peer sends nothing)."""
    while not lost.is_set():
        try:
            await asyncio.wait_for(lost.wait(), timeout=10)
        except TimeoutError:
            await connection.execute("SELECT 1", timeout=5)
