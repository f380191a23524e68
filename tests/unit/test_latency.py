import pytest

from gateway.latency import BUCKETS, bucket_of, duration_text, quantile, upper_bound


@pytest.mark.parametrize("seconds", [0.0005, 0.001, 0.0123, 0.4, 2.5, 9.99, 60.0])
def test_a_bucket_bounds_its_latency_within_19_percent(seconds: float) -> None:
    bound = upper_bound(bucket_of(seconds))
    assert seconds <= bound + 1e-12
    assert bound <= max(seconds, 0.001) * 1.19


def test_huge_latencies_share_the_last_bucket() -> None:
    assert bucket_of(1e9) == BUCKETS - 1


def test_p99_of_a_hundred_pushes_is_the_slowest() -> None:
    counts = {bucket_of(0.010): 99, bucket_of(2.0): 1}
    assert quantile(counts, 0.99) == upper_bound(bucket_of(0.010))
    assert quantile(counts, 1.0) == upper_bound(bucket_of(2.0))


def test_no_pushes_no_latency() -> None:
    assert quantile({}, 0.99) == 0.0


def test_duration_is_written_as_dt_does() -> None:
    assert duration_text(0.4111) == "0.411s"
    assert duration_text(0) == "0.000s"
