"""`Deduplicator`: a bounded memory of processed event ids."""

from __future__ import annotations

import threading

import pytest

from receivers import Deduplicator


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_claim_wins_and_a_repeat_is_a_duplicate() -> None:
    seen = Deduplicator()

    assert seen.claim("a") is True
    assert seen.claim("a") is False
    assert "a" in seen and "b" not in seen


def test_a_released_id_can_be_claimed_again() -> None:
    seen = Deduplicator()
    seen.claim("a")

    seen.release("a")

    assert seen.claim("a") is True


def test_releasing_an_unknown_id_is_harmless() -> None:
    Deduplicator().release("never-seen")


def test_the_oldest_id_is_forgotten_when_full() -> None:
    seen = Deduplicator(max_size=2)
    for event_id in ("a", "b", "c"):
        seen.claim(event_id)

    assert len(seen) == 2
    assert "a" not in seen and "b" in seen and "c" in seen


def test_ids_are_forgotten_after_the_ttl() -> None:
    clock = FakeClock()
    seen = Deduplicator(ttl=10, clock=clock)
    seen.claim("a")
    clock.now = 5
    seen.claim("b")

    clock.now = 10
    assert "a" not in seen and "b" in seen
    assert seen.claim("a") is True
    clock.now = 15
    assert len(seen) == 1


def test_without_a_ttl_only_the_size_bound_forgets() -> None:
    clock = FakeClock()
    seen = Deduplicator(ttl=None, clock=clock)
    seen.claim("a")

    clock.now = 10**9
    assert "a" in seen


@pytest.mark.parametrize(("max_size", "ttl"), [(0, 1.0), (1, 0.0), (1, -5.0)])
def test_nonsense_bounds_are_refused(max_size: int, ttl: float) -> None:
    with pytest.raises(ValueError):
        Deduplicator(max_size=max_size, ttl=ttl)


def test_concurrent_claims_of_one_id_let_exactly_one_through() -> None:
    seen = Deduplicator()
    start = threading.Barrier(8)
    results: list[bool] = []

    def claim() -> None:
        start.wait()
        results.append(seen.claim("same"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]
