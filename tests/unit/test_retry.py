"""The retry policy alone: exponential backoff, ±20 % jitter, Retry-After within bounds."""

from __future__ import annotations

from datetime import timedelta

from gateway.dispatch.retry import RetryPolicy


def test_the_delay_doubles_per_failure_up_to_the_longest() -> None:
    policy = RetryPolicy(base=5, longest=100, uniform=lambda low, high: 1.0)
    delays = [policy.delay(n).total_seconds() for n in range(1, 8)]
    assert delays == [5, 10, 20, 40, 80, 100, 100]


def test_jitter_stays_within_twenty_percent() -> None:
    low = RetryPolicy(base=5, longest=100, uniform=lambda low, high: low)
    high = RetryPolicy(base=5, longest=100, uniform=lambda low, high: high)
    assert low.delay(1) == timedelta(seconds=4)
    assert high.delay(3) == timedelta(seconds=24)
    real = RetryPolicy(base=5, longest=100)
    for _ in range(200):
        assert timedelta(seconds=8) <= real.delay(2) <= timedelta(seconds=12)


def test_retry_after_wins_within_the_bounds_without_jitter() -> None:
    policy = RetryPolicy(base=5, longest=100)
    assert policy.delay(1, 30) == timedelta(seconds=30)
    assert policy.delay(9, 0) == timedelta(seconds=5)
    assert policy.delay(1, 10_000) == timedelta(seconds=100)


def test_huge_failure_counts_do_not_overflow() -> None:
    policy = RetryPolicy(base=5, longest=1800, uniform=lambda low, high: 1.0)
    assert policy.delay(10_000) == timedelta(seconds=1800)
