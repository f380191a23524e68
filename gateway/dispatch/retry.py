"""When a failed push is tried again: exponential backoff with jitter, Retry-After within bounds.

Pure arithmetic, no clock and no database: the recorder asks it for a delay when it writes an
outcome.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from gateway.config import Settings

JITTER = 0.2  # ±20 %: replicas and deliveries that failed together do not retry together


@dataclass(frozen=True)
class RetryPolicy:
    """Delays from `base` doubling per failure up to `longest`; a Retry-After wins within them."""

    base: float
    longest: float
    jitter: float = JITTER
    uniform: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(base=settings.retry_base, longest=settings.retry_max)

    def delay(self, failures: int, retry_after: float | None = None) -> timedelta:
        """The wait after the `failures`-th failure in a row (1 for the first)."""
        if retry_after is not None:
            return timedelta(seconds=min(max(retry_after, self.base), self.longest))
        doublings = min(max(failures - 1, 0), 30)
        seconds = min(self.base * 2**doublings, self.longest)
        return timedelta(seconds=seconds * self.uniform(1 - self.jitter, 1 + self.jitter))


def retry_delay(settings: Settings) -> Callable[[int, float | None], timedelta]:
    """The settings' retry policy as a function of (failures in a row, Retry-After)."""
    return RetryPolicy.from_settings(settings).delay
