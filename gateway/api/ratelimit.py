"""A limit on failed sign-ins per service-account key, for Basic auth and OAuth assertions.

After `limit` failures within a window, the key is refused with 429 and `Retry-After` until its
window ends, even with the right secret: otherwise the limit would not slow a guesser down.
Memory is bounded: at most `max_keys` keys are tracked, the oldest windows forgotten first.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import jwt
from aiohttp import web

from gateway.errors import TooManyRequests, Unauthorized

WINDOW = 60.0  # seconds
MAX_KEYS = 10_000  # about 1 MB at most


class FailureLimiter:
    """Counts failures per key in fixed windows; refuses a key that used up its window."""

    def __init__(self, limit: int, window: float = WINDOW, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        # key -> (when its window started, failures in it); oldest window first.
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def check(self, key: str | None, now: float) -> None:
        """Raise TooManyRequests if `key` has failed `limit` times in its current window."""
        entry = self._failures.get(key) if key is not None else None
        if entry is None:
            return
        started, failures = entry
        if now - started >= self.window:
            del self._failures[key]  # type: ignore[arg-type]  # not None here
        elif failures >= self.limit:
            retry_after = max(1, math.ceil(started + self.window - now))
            raise TooManyRequests("too many failed sign-ins with this key", retry_after)

    def record_failure(self, key: str | None, now: float) -> None:
        """Count one failure of `key`; None (no key could be read) is not counted."""
        if key is None:
            return
        started, failures = self._failures.get(key, (now, 0))
        if now - started >= self.window:
            self._failures.pop(key)
            started, failures = now, 0
        self._failures[key] = (started, failures + 1)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    @contextmanager
    def watch(self, key: str | None, now: float) -> Iterator[None]:
        """Refuse a key over its limit; count the Unauthorized raised inside the block."""
        self.check(key, now)
        try:
            yield
        except Unauthorized:
            self.record_failure(key, now)
            raise


AUTH_FAILURES = web.AppKey("auth_failures", FailureLimiter)


def basic_key(authorization: str | None) -> str | None:
    """The key id of Basic credentials, or None for anything else."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key_id, colon, _ = decoded.partition(":")
    return key_id if colon and key_id else None


def assertion_key(assertion: str) -> str | None:
    """The key id (`kid`) an OAuth assertion names, or None when it names none."""
    try:
        key_id = jwt.get_unverified_header(assertion).get("kid")
    except jwt.PyJWTError:
        return None
    return key_id if isinstance(key_id, str) and key_id else None
