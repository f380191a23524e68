"""Lanes: each connector's claimed deliveries in this process, admitted through its window.

Claimed deliveries wait in their connector's lane; as many as its window lets through are
admitted to the queue the process's pushers read, so a connector never has more pushes in
flight than its window, and one that hangs holds one pusher. A lane holds at most
`claim_limit` deliveries (a few rounds of its window), and a lane that is full or halted is
left out of the next claim, so one slow or dead endpoint never fills the process.

A failed push does not hold the lane up: the delivery waits for its own retry and the others
go on. Once `PROBE_AFTER` pushes have failed in a row (or a probe failed), the lane halts: what
it still holds is handed to the caller to defer to the connector's next probe.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from gateway.dispatch.retry import PROBE_AFTER
from gateway.dispatch.window import Window
from gateway.store.deliveries import DeliveryRow

ROUNDS_CLAIMED = 4  # a lane holds this many windows' worth of deliveries


@dataclass(eq=False)
class Lane:
    """A connector's claimed deliveries in this process."""

    window: Window
    waiting: deque[DeliveryRow] = field(default_factory=deque)  # not yet admitted
    claimed: int = 0  # in the lane: waiting, admitted, or being pushed
    probing: bool = False  # the connector is in probing: one push, then halt or go on
    failures_in_a_row: int = 0
    halted: bool = False  # in probing now: the rest wait for the connector's next probe

    @property
    def claim_limit(self) -> int:
        """Deliveries this lane may hold: a few rounds of what its window lets through."""
        return ROUNDS_CLAIMED * self.window.size

    @property
    def full(self) -> bool:
        return self.claimed >= self.claim_limit

    def record(self, ok: bool) -> None:
        """A push ended: a success opens the window, a failure closes it (and may halt)."""
        if ok:
            self.failures_in_a_row = 0
            self.probing = False
            self.window.succeeded()
            return
        self.failures_in_a_row += 1
        self.window.failed()
        if self.probing or self.failures_in_a_row >= PROBE_AFTER:
            self.halted = True


class Lanes:
    """The lanes of the connectors with claimed deliveries, and the queue of admitted ones."""

    def __init__(self, window_max_size: int) -> None:
        self.window_max_size = window_max_size
        self.admitted = 0  # in the pushers' queue or being pushed
        self._lanes: dict[str, Lane] = {}
        # Each connector's window, kept while the process lives: a connector that answers well
        # is not made to grow it again every time its queue runs empty.
        self._windows: dict[str, Window] = {}
        self._ready: asyncio.Queue[tuple[DeliveryRow, Lane]] = asyncio.Queue()

    @property
    def connector_claim_limit(self) -> int:
        """The most deliveries one claim takes of one connector: a lane with a full window."""
        return ROUNDS_CLAIMED * self.window_max_size

    def add(self, row: DeliveryRow) -> None:
        """A claimed delivery joins its connector's lane (as a probe when `row["probing"]`)."""
        connector_id = row["connector_id"]
        lane = self._lanes.get(connector_id)
        if lane is None:
            window = self._windows.get(connector_id)
            if window is None:
                window = self._windows[connector_id] = Window(self.window_max_size)
            lane = self._lanes[connector_id] = Lane(window)
        lane.claimed += 1
        lane.probing = lane.probing or row["probing"]
        lane.waiting.append(row)
        self._admit(lane)

    async def take(self) -> tuple[DeliveryRow, Lane]:
        """The next admitted delivery, for a pusher."""
        return await self._ready.get()

    def finish(self, row: DeliveryRow, lane: Lane, ok: bool | None) -> list[DeliveryRow]:
        """An admitted delivery is done: pushed (`ok`) or not (None). Returns the deliveries
        the lane gives up because it halted; more are admitted otherwise."""
        lane.window.in_flight -= 1
        lane.claimed -= 1
        self.admitted -= 1
        if ok is not None:
            lane.record(ok)
        given_up: list[DeliveryRow] = []
        if lane.halted:
            given_up = list(lane.waiting)
            lane.waiting.clear()
            lane.claimed -= len(given_up)
        else:
            self._admit(lane)
        if lane.claimed == 0 and self._lanes.get(row["connector_id"]) is lane:
            del self._lanes[row["connector_id"]]
        return given_up

    def closed_to_claims(self) -> list[str]:
        """Connectors the next claim passes over: lanes that are full or halted."""
        return [cid for cid, lane in self._lanes.items() if lane.full or lane.halted]

    def _admit(self, lane: Lane) -> None:
        window = lane.window
        while lane.waiting and window.in_flight < window.size:
            window.in_flight += 1
            self.admitted += 1
            self._ready.put_nowait((lane.waiting.popleft(), lane))
