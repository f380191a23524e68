"""Remember recently processed event ids: delivery is at least once, so duplicates happen."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_SIZE = 10_000
# DT retries an event for up to 12 hours, so an id older than that cannot come back.
DEFAULT_TTL = 12 * 3600.0


class Deduplicator:
    """A bounded, thread-safe set of event ids, each forgotten after `ttl` seconds.

    When full, the oldest id is forgotten first. Memory is per process: with several workers
    each has its own set, and a duplicate may reach a worker that has not seen the original.
    """

    def __init__(
        self,
        max_size: int = DEFAULT_MAX_SIZE,
        ttl: float | None = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive or None")
        self._max_size = max_size
        self._ttl = ttl
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        """Record `event_id`; True if it is new and should be processed, False for a duplicate."""
        with self._lock:
            now = self._clock()
            self._forget_expired(now)
            if event_id in self._expiry:
                return False
            if len(self._expiry) >= self._max_size:
                self._expiry.popitem(last=False)
            self._expiry[event_id] = now + self._ttl if self._ttl is not None else float("inf")
            return True

    def release(self, event_id: str) -> None:
        """Forget `event_id`, so a redelivery is processed again (after processing failed)."""
        with self._lock:
            self._expiry.pop(event_id, None)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            self._forget_expired(self._clock())
            return event_id in self._expiry

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._expiry)

    def _forget_expired(self, now: float) -> None:
        # Ids go in with the same ttl and a monotonic clock, so expiry order is insertion order.
        while self._expiry:
            oldest, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[oldest]
