import base64
import time
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from gateway import ids


@given(seconds=st.integers(0, 2**32 - 1), random=st.binary(min_size=8, max_size=8))
def test_an_id_is_the_base32hex_of_its_seconds_and_random_bytes(seconds: int, random: bytes) -> None:
    with mock.patch.object(time, "time", return_value=seconds), mock.patch.object(
        ids.os, "urandom", return_value=random
    ):
        made = ids.new_id()
    expected = base64.b32hexencode(seconds.to_bytes(4, "big") + random)[:20].decode().lower()
    assert made == expected
    assert ids.is_id(made)


def test_ids_made_in_one_second_differ_and_sort_by_time() -> None:
    made = {ids.new_id() for _ in range(10_000)}
    assert len(made) == 10_000
    with mock.patch.object(time, "time", return_value=1_000):
        early = ids.new_id()
    with mock.patch.object(time, "time", return_value=2_000):
        late = ids.new_id()
    assert early < late
