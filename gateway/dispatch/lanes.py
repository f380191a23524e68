"""Lanes: each connector's claimed deliveries in this process, behind its window.

A lane holds at most `claim_limit` deliveries (a few rounds of what its window lets through),
so a claim never takes more of one connector than it can push soon; a connector whose lane is
full or failing is left out of the next claim, so one slow or dead endpoint never fills the
process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.dispatch.window import Window

ROUNDS_CLAIMED = 4  # a lane holds this many windows' worth of deliveries


@dataclass
class Lane:
    """A connector's claimed deliveries in this process."""

    window: Window
    claimed: int = 0  # claimed, push not yet finished
    failed: bool = False  # a push failed: the rest wait for the connector's retry

    @property
    def claim_limit(self) -> int:
        """Deliveries this lane may hold: a few rounds of what its window lets through."""
        return ROUNDS_CLAIMED * self.window.size

    @property
    def full(self) -> bool:
        return self.claimed >= self.claim_limit


@dataclass
class Lanes:
    """The lanes of the connectors that have claimed deliveries in this process."""

    window_max_size: int
    _lanes: dict[str, Lane] = field(default_factory=dict)
    # Each connector's window, kept while the process lives: a connector that answers well is
    # not made to grow it again every time its queue runs empty.
    _windows: dict[str, Window] = field(default_factory=dict)

    @property
    def connector_claim_limit(self) -> int:
        """The most deliveries one claim takes of one connector: a lane with a full window."""
        return ROUNDS_CLAIMED * self.window_max_size

    def enter(self, connector_id: str) -> Lane:
        """The connector's lane, holding one more claimed delivery."""
        lane = self._lanes.get(connector_id)
        if lane is None:
            window = self._windows.get(connector_id)
            if window is None:
                window = self._windows[connector_id] = Window(self.window_max_size)
            lane = self._lanes[connector_id] = Lane(window)
        lane.claimed += 1
        return lane

    def leave(self, connector_id: str, lane: Lane) -> bool:
        """One delivery left the lane; True when that made room in a full lane."""
        lane.claimed -= 1
        if lane.claimed == 0 and self._lanes.get(connector_id) is lane:
            del self._lanes[connector_id]
        return lane.claimed == lane.claim_limit - 1

    def closed_to_claims(self) -> list[str]:
        """Connectors the next claim passes over: lanes that are full or failing."""
        return [cid for cid, lane in self._lanes.items() if lane.full or lane.failed]
