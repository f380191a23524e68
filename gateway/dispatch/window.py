"""How many pushes a connector may have in flight: a window that grows while it answers.

It starts at one push, doubles with each success up to its maximum, and falls back to one on a
failure. An endpoint that hangs therefore holds one of the process's pushers, not a lane's
worth, from its very first push; a healthy one reaches its maximum after a handful of answers.
"""

from __future__ import annotations


class Window:
    """Pushes a connector may have in flight now (`size`), and how many it has (`in_flight`)."""

    __slots__ = ("in_flight", "max_size", "size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 1
        self.in_flight = 0

    @property
    def has_room(self) -> bool:
        return self.in_flight < self.size

    def succeeded(self) -> None:
        self.size = min(2 * self.size, self.max_size)

    def failed(self) -> None:
        self.size = 1
