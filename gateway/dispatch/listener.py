"""The LISTEN side of the event bus: a dedicated connection that hears connector changes (so
every replica's registry drops them at once) and queued deliveries (which wake the dispatcher).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from gateway.dispatch.registry import ConnectorRegistry
from gateway.errors import DATABASE_UNAVAILABLE
from gateway.store import Connection
from gateway.store.listening import listen_until_lost

CONNECTORS_CHANNEL = "gateway_connectors"
DELIVERIES_CHANNEL = "gateway_deliveries"

log = structlog.get_logger(__name__)


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
            except DATABASE_UNAVAILABLE as error:
                log.warning("listener_disconnected", error=type(error).__name__)
            self.connected.clear()
            await asyncio.sleep(self._retry_delay)

    async def _listen_once(self) -> None:
        channels = {CONNECTORS_CHANNEL: self._notified, DELIVERIES_CHANNEL: self._notified}
        await listen_until_lost(self._dsn, channels, self._listening)

    def _listening(self) -> None:
        # Anything may have changed while no one listened.
        self._registry.invalidate()
        self._on_deliveries()
        self.connected.set()
        log.info("listener_connected")
