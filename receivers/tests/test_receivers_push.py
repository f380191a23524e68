"""`parse_push`: the typed view of a push body, and the shapes it refuses."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import disruptive
import pytest
from receivers_testkit import DEVICE, PROJECT, compact, push_body, push_document

from receivers import Metadata, Reason, VerificationError, parse_push

STAMP = "2022-02-10T12:42:13.313949Z"
LABELS_CHANGED = {"added": {"floor": "2"}, "modified": {"name": "desk"}, "removed": ["old"]}
TEMPERATURE = {
    "temperature": {
        "value": 27,
        "updateTime": STAMP,
        "samples": [{"value": 27, "sampleTime": STAMP}],
        "isBackfilled": False,
    }
}


def invalid_reason(document: Any) -> Reason:
    with pytest.raises(VerificationError) as caught:
        parse_push(compact(document))
    return caught.value.reason


def test_every_field_of_a_push_is_parsed() -> None:
    push = parse_push(push_body())

    assert push.event.event_id == "c82gg9catj3vmh4248og"
    assert push.event.target_name == f"projects/{PROJECT}/devices/{DEVICE}"
    assert push.event.event_type == "touch"
    assert push.event.data == {"touch": {"updateTime": "2022-02-10T12:42:13.313949Z"}}
    assert push.event.timestamp == datetime(2022, 2, 10, 12, 42, 13, 313949, tzinfo=UTC)
    assert push.labels == {"name": "touch"}
    assert push.metadata == Metadata(DEVICE, PROJECT, "touch", "")


def test_project_and_device_come_from_the_target_name() -> None:
    event = parse_push(push_body()).event

    assert (event.project_id, event.device_id) == (PROJECT, DEVICE)


def test_a_target_that_is_not_a_device_has_no_device_id() -> None:
    document = push_document()
    document["event"]["targetName"] = f"projects/{PROJECT}"
    event = parse_push(compact(document)).event

    assert (event.project_id, event.device_id) == (None, None)


def test_the_payload_is_the_object_keyed_by_event_type() -> None:
    event = parse_push(push_body("temperature", data=TEMPERATURE)).event

    assert event.payload["value"] == 27
    assert event.payload["isBackfilled"] is False


def test_labels_changed_data_is_not_keyed() -> None:
    event = parse_push(push_body("labelsChanged", data=LABELS_CHANGED)).event

    assert event.payload == LABELS_CHANGED


def test_the_objects_are_frozen() -> None:
    push = parse_push(push_body())

    with pytest.raises(dataclasses.FrozenInstanceError):
        push.event.event_id = "other"  # type: ignore[misc]


def test_nanosecond_and_offset_timestamps_are_normalised_to_utc() -> None:
    nanos = parse_push(push_body(timestamp="2018-05-08T13:29:47.543486780Z")).event.timestamp
    offset = parse_push(push_body(timestamp="2018-05-08T15:29:47+02:00")).event.timestamp

    assert nanos == datetime(2018, 5, 8, 13, 29, 47, 543486, tzinfo=UTC)
    assert offset == datetime(2018, 5, 8, 13, 29, 47, tzinfo=UTC)


def test_a_push_without_metadata_has_none() -> None:
    document = push_document()
    del document["metadata"]

    assert parse_push(compact(document)).metadata is None


def test_a_push_without_labels_has_empty_labels() -> None:
    document = push_document()
    del document["labels"]

    assert parse_push(compact(document)).labels == {}


def test_a_missing_product_number_is_empty() -> None:
    document = push_document()
    del document["metadata"]["productNumber"]

    metadata = parse_push(compact(document)).metadata
    assert metadata is not None and metadata.product_number == ""


def test_unknown_fields_are_ignored() -> None:
    document = push_document()
    document["future"] = {"x": 1}
    document["event"]["extra"] = True

    assert parse_push(compact(document)).event.event_type == "touch"


def test_non_utf8_or_non_json_bodies_are_malformed() -> None:
    for body in (b"", b"{", b"\xff\xfe\x00", b"NaN", b'{"a": Infinity}', b"[" * 100_000):
        with pytest.raises(VerificationError) as caught:
            parse_push(body)
        assert caught.value.reason is Reason.MALFORMED_BODY, body[:10]


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    document = push_document()
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    del target[last]
    return document


def _replaced(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    document = push_document()
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    return document


@pytest.mark.parametrize(
    "path",
    [
        ("event",),
        ("event", "eventId"),
        ("event", "targetName"),
        ("event", "eventType"),
        ("event", "data"),
        ("event", "timestamp"),
        ("metadata", "deviceId"),
    ],
)
def test_a_missing_required_field_is_invalid(path: tuple[str, ...]) -> None:
    assert invalid_reason(_without(path)) is Reason.INVALID_PUSH


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("event",), []),
        (("event", "eventId"), 5),
        (("event", "data"), "touch"),
        (("event", "timestamp"), "yesterday"),
        (("event", "timestamp"), "2022-02-10T12:42:13"),
        (("event", "timestamp"), "0001-01-01T00:00:00+01:00"),
        (("labels",), ["name"]),
        (("labels",), {"name": 1}),
        (("metadata",), "touch"),
        (("metadata", "productNumber"), 102081),
    ],
)
def test_a_field_of_the_wrong_type_is_invalid(path: tuple[str, ...], value: Any) -> None:
    assert invalid_reason(_replaced(path, value)) is Reason.INVALID_PUSH


@pytest.mark.parametrize("document", [[], "push", 1, None])
def test_a_body_that_is_not_an_object_is_invalid(document: Any) -> None:
    assert invalid_reason(document) is Reason.INVALID_PUSH


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("touch", None),
        ("temperature", TEMPERATURE),
        ("labelsChanged", LABELS_CHANGED),
        ("objectPresent", {"objectPresent": {"state": "PRESENT", "updateTime": STAMP}}),
    ],
)
def test_parsed_events_agree_with_the_dt_sdk(event_type: str, data: Any) -> None:
    document = push_document(event_type, data=data)
    event = parse_push(compact(document)).event

    sdk_event = disruptive.events.Event(document["event"])
    assert sdk_event.event_id == event.event_id
    assert sdk_event.event_type == event.event_type
    assert sdk_event.device_id == event.device_id
    assert sdk_event.project_id == event.project_id
    assert sdk_event.data.timestamp == event.timestamp  # type: ignore[union-attr]
