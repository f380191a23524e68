"""Fan-out of published events to this replica's open event streams.

Every publish announces its new events on commit (NOTIFY `gateway_events`, ids only: payloads
are limited to 8000 bytes). One LISTEN connection per replica hears them; the hub reads the
announced rows of projects that have open streams, in one query per burst, and offers each
event's line to the matching streams. A stream holds at most `limit` bytes for its reader; a
reader slower than that is cut off rather than let memory grow. Streams carry no delivery
guarantee (as DT's): events published while the LISTEN connection is down are not streamed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import structlog

from gateway.errors import DATABASE_FAILED
from gateway.store import streams
from gateway.store.listening import listen_until_lost

log = structlog.get_logger(__name__)
# The database is away, or refused the statement: log it and carry on.


@dataclass(frozen=True)
class StreamFilter:
    """Which events a stream carries: every given condition must hold."""

    device_ids: frozenset[str] = frozenset()
    device_types: frozenset[str] = frozenset()
    event_types: frozenset[str] = frozenset()
    labels: dict[str, str] = field(default_factory=dict)  # key = value
    label_keys: frozenset[str] = frozenset()  # key present, any value

    def matches(self, row: asyncpg.Record) -> bool:
        labels: dict[str, str] = row["labels"]
        return (
            (not self.device_ids or row["device_id"] in self.device_ids)
            and (not self.device_types or row["device_type"] in self.device_types)
            and (not self.event_types or row["event_type"] in self.event_types)
            and all(labels.get(key) == value for key, value in self.labels.items())
            and all(key in labels for key in self.label_keys)
        )


class Subscription:
    """One open stream's buffer of lines, bounded in bytes."""

    def __init__(
        self, project_id: str, where: StreamFilter, limit: int, on_cut: Callable[[], None]
    ) -> None:
        self.project_id = project_id
        self.where = where
        self.closed = False
        self.cut_off = False
        self._limit = limit
        self._on_cut = on_cut
        self._lines: list[bytes] = []
        self._size = 0
        self._ready = asyncio.Event()

    def offer(self, line: bytes) -> None:
        if self.closed:
            return
        if self._size + len(line) > self._limit:
            self.cut_off = True
            self.close()
            self._on_cut()
            return
        self._lines.append(line)
        self._size += len(line)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def take(self, timeout: float) -> list[bytes] | None:
        """The lines waiting ([] if none came within `timeout`); None once closed."""
        if not self._lines and not self.closed:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []
        if self.closed:
            return None
        lines, self._lines, self._size = self._lines, [], 0
        self._ready.clear()
        return lines


class StreamHub:
    """This replica's open streams by project, fed from one LISTEN connection."""

    def __init__(self, dsn: str, db: asyncpg.Pool, limit: int, retry_delay: float = 1.0) -> None:
        self._dsn = dsn
        self._db = db
        self._limit = limit
        self._retry_delay = retry_delay
        self._streams: dict[str, set[Subscription]] = {}
        self._announced: list[tuple[str, list[str]]] = []
        self._wake = asyncio.Event()
        self.listening = asyncio.Event()

    def subscribe(
        self, project_id: str, where: StreamFilter, on_cut: Callable[[], None]
    ) -> Subscription:
        subscription = Subscription(project_id, where, self._limit, on_cut)
        self._streams.setdefault(project_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        project = self._streams.get(subscription.project_id, set())
        project.discard(subscription)
        if not project:
            self._streams.pop(subscription.project_id, None)

    def close_all(self) -> None:
        """End every open stream (shutdown): clients reconnect to another replica."""
        for project in self._streams.values():
            for subscription in project:
                subscription.close()

    def __len__(self) -> int:
        return sum(len(project) for project in self._streams.values())

    def _notified(self, _c: object, _pid: int, _channel: str, payload: object) -> None:
        project_id, event_ids = streams.parse_announcement(str(payload))
        if project_id in self._streams:
            self._announced.append((project_id, event_ids))
            self._wake.set()

    async def forward(self) -> None:
        """Read announced events, a burst at a time, and offer them to matching streams."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            burst, self._announced = self._announced, []
            projects = [project for project, ids in burst for _ in ids]
            ids = [event_id for _, event_ids in burst for event_id in event_ids]
            try:
                rows = await streams.announced_events(self._db, projects, ids)
            except DATABASE_FAILED as error:
                log.warning("stream_read_failed", error=type(error).__name__, events=len(ids))
                continue
            for row in rows:
                self._offer(row)

    def _offer(self, row: asyncpg.Record) -> None:
        line = b'{"result":{"event":' + row["body"] + b"}}\n"
        for subscription in list(self._streams.get(row["project_id"], ())):
            if subscription.where.matches(row):
                subscription.offer(line)
                if subscription.cut_off:
                    log.warning("stream_cut_off", project=row["project_id"], limit=self._limit)
                    self.unsubscribe(subscription)

    async def listen(self) -> None:
        """Hold the LISTEN connection, reconnecting by itself when it is lost."""
        while True:
            try:
                await self._listen_once()
            except DATABASE_FAILED as error:
                log.warning("stream_listener_disconnected", error=type(error).__name__)
            self.listening.clear()
            await asyncio.sleep(self._retry_delay)

    async def _listen_once(self) -> None:
        await listen_until_lost(self._dsn, {streams.CHANNEL: self._notified}, self.listening.set)
