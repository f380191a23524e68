"""The failed sign-in limiter alone: windows, Retry-After, bounded memory, key extraction."""

from __future__ import annotations

import base64

import jwt
import pytest

from gateway.api.ratelimit import FailureLimiter, assertion_key, basic_key
from gateway.errors import TooManyRequests, Unauthorized


def test_a_key_is_refused_after_its_failures_until_the_window_ends() -> None:
    limiter = FailureLimiter(limit=3, window=60.0)
    for second in range(3):
        limiter.check("k", 100.0 + second)
        limiter.record_failure("k", 100.0 + second)
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("k", 110.5)
    assert refused.value.status == 429
    assert refused.value.retry_after == 50  # the window started at 100 and ends at 160
    limiter.check("other", 110.5)
    limiter.check("k", 160.0)  # a new window
    limiter.record_failure("k", 160.0)
    limiter.check("k", 161.0)


def test_none_is_never_counted() -> None:
    limiter = FailureLimiter(limit=1)
    limiter.record_failure(None, 0.0)
    limiter.check(None, 0.0)
    assert len(limiter) == 0


def test_memory_stays_bounded_oldest_window_first() -> None:
    limiter = FailureLimiter(limit=1, max_keys=100)
    for index in range(1000):
        limiter.record_failure(f"key-{index}", float(index) / 100)
    assert len(limiter) == 100
    limiter.check("key-0", 10.0)  # forgotten
    with pytest.raises(TooManyRequests):
        limiter.check("key-999", 10.0)


def test_watch_counts_only_unauthorized() -> None:
    limiter = FailureLimiter(limit=1)
    with pytest.raises(ValueError), limiter.watch("k", 0.0):
        raise ValueError("not a sign-in failure")
    limiter.check("k", 0.0)
    with pytest.raises(Unauthorized), limiter.watch("k", 0.0):
        raise Unauthorized("bad secret")
    with pytest.raises(TooManyRequests), limiter.watch("k", 1.0):
        pass


def test_keys_are_read_from_basic_credentials_and_assertions() -> None:
    encoded = base64.b64encode(b"key-1:secret").decode()
    assert basic_key(f"Basic {encoded}") == "key-1"
    assert basic_key(f"basic  {encoded}") == "key-1"
    no_colon = "Basic " + base64.b64encode(b"nocolon").decode()
    for bad in (None, "", "Bearer x", "Basic !!!", no_colon):
        assert basic_key(bad) is None
    token = jwt.encode({"a": 1}, "s" * 32, algorithm="HS256", headers={"kid": "key-2"})
    assert assertion_key(token) == "key-2"
    assert assertion_key("not-a-jwt") is None
    assert assertion_key(jwt.encode({"a": 1}, "s" * 32, algorithm="HS256")) is None
