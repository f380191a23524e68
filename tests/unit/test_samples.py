"""The :test push samples: one valid event of every type, as DT's SDK reads events."""

from __future__ import annotations

from datetime import UTC, datetime

import disruptive.events as dte
import orjson
import pytest

from gateway.ingest.samples import SAMPLE_TYPES, sample_event
from gateway.model import DEVICE_TYPES, EVENT_TYPES

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_every_event_type_has_a_sample() -> None:
    assert SAMPLE_TYPES == EVENT_TYPES


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_a_sample_is_an_event_the_sdk_reads(event_type: str) -> None:
    sample = sample_event("p1", event_type, NOW)
    event = orjson.loads(sample.body)
    assert event["eventId"] == sample.id and event["eventType"] == event_type
    assert event["targetName"] == f"projects/p1/devices/{sample.device_id}"
    assert sample.device_type in DEVICE_TYPES
    parsed = dte.Event(event)
    assert parsed.event_type == event_type and parsed.event_id == sample.id


def test_every_sample_is_new() -> None:
    first, second = (sample_event("p1", "touch", NOW) for _ in range(2))
    assert first.id != second.id and first.device_id != second.device_id
