"""Publish-body validation, checked against the DT SDK's own event classes and parsers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import disruptive
import disruptive.events as dte
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ingest import checks, eventdata
from gateway.ingest.eventdata import (
    InvalidEventData,
    format_timestamp,
    parse_publish,
    parse_timestamp,
)
from gateway.model import DEVICE_TYPES, EVENT_TYPES

NOW = datetime(2022, 2, 10, 12, 42, 13, 313949, tzinfo=UTC)
NOW_TEXT = "2022-02-10T12:42:13.313949Z"
GIVEN = datetime(2021, 5, 6, 9, 30, 1, 250000, tzinfo=timezone(timedelta(hours=2)))
GIVEN_TEXT = "2021-05-06T07:30:01.250000Z"


def sdk_body(event: Any) -> object:
    """The JSON body `disruptive.Emulator.publish_event` sends for `event`."""
    return json.loads(json.dumps({event.event_type: event._raw}))


def full_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    inner = data if event_type == "labelsChanged" else data[event_type]
    return {
        "eventId": "c7s1p0p5g8b0009ahkkg",
        "targetName": "projects/p1/devices/d1",
        "eventType": event_type,
        "data": data,
        "timestamp": inner.get("updateTime", NOW_TEXT),
    }


def sdk_parse(event_type: str, data: dict[str, Any]) -> Any:
    # The SDK mutates labelsChanged data, so hand it a copy.
    return disruptive.events.Event(orjson.loads(orjson.dumps(full_event(event_type, data))))


CCON = dte.NetworkStatusCloudConnector
SDK_CASES: list[tuple[Any, type, dict[str, Any]]] = [
    (dte.Touch(), dte.Touch, {}),
    (dte.Touch(timestamp=GIVEN), dte.Touch, {"timestamp": GIVEN}),
    (dte.Temperature(celsius=21.5), dte.Temperature, {"celsius": 21.5, "is_backfilled": False}),
    (
        dte.Temperature(
            celsius=-3,
            samples=[dte.TemperatureSample(celsius=-3.25, timestamp=GIVEN)],
            is_backfilled=True,
            timestamp="2021-05-06T07:30:01.25Z",
        ),
        dte.Temperature,
        {"celsius": -3, "is_backfilled": True, "timestamp": GIVEN},
    ),
    (dte.ObjectPresent(state="PRESENT"), dte.ObjectPresent, {"state": "PRESENT"}),
    (
        dte.Humidity(celsius=22.5, relative_humidity=41, timestamp=GIVEN),
        dte.Humidity,
        {"celsius": 22.5, "relative_humidity": 41, "is_backfilled": False, "timestamp": GIVEN},
    ),
    (dte.ObjectPresentCount(total=7), dte.ObjectPresentCount, {"total": 7}),
    (dte.TouchCount(total=0), dte.TouchCount, {"total": 0}),
    (dte.WaterPresent(state="NOT_PRESENT"), dte.WaterPresent, {"state": "NOT_PRESENT"}),
    (dte.NetworkStatus(), dte.NetworkStatus, {"cloud_connectors": []}),
    (
        dte.NetworkStatus(
            signal_strength=80,
            rssi=-60,
            transmission_mode="HIGH_POWER_BOOST_MODE",
            cloud_connectors=[CCON(device_id="ccon1", signal_strength=80, rssi=-60)],
        ),
        dte.NetworkStatus,
        {"signal_strength": 80, "rssi": -60, "transmission_mode": "HIGH_POWER_BOOST_MODE"},
    ),
    (dte.BatteryStatus(percentage=100), dte.BatteryStatus, {"percentage": 100}),
    (
        dte.LabelsChanged(added={"room": "1"}, modified={"floor": "2"}, removed=["old"]),
        dte.LabelsChanged,
        {"added": {"room": "1"}, "modified": {"floor": "2"}, "removed": ["old"]},
    ),
    (
        dte.ConnectionStatus(connection="ETHERNET", available=["ETHERNET", "CELLULAR"]),
        dte.ConnectionStatus,
        {"connection": "ETHERNET", "available": ["ETHERNET", "CELLULAR"]},
    ),
    (
        dte.EthernetStatus(mac_address="f0:b5:b7:00:0a:08", ip_address="10.0.0.1"),
        dte.EthernetStatus,
        {"mac_address": "f0:b5:b7:00:0a:08", "ip_address": "10.0.0.1"},
    ),
    (dte.CellularStatus(signal_strength=34), dte.CellularStatus, {"signal_strength": 34}),
    (dte.Co2(ppm=412), dte.Co2, {"ppm": 412}),
    (dte.Pressure(pascal=101325.5), dte.Pressure, {"pascal": 101325.5}),
    (dte.Motion(state="MOTION_DETECTED"), dte.Motion, {"state": "MOTION_DETECTED"}),
    (
        dte.DeskOccupancy(state="OCCUPIED", remarks=["INCOMPLETE_CALIBRATION"]),
        dte.DeskOccupancy,
        {"state": "OCCUPIED", "remarks": ["INCOMPLETE_CALIBRATION"]},
    ),
    (dte.DeskOccupancy(state="NOT_OCCUPIED"), dte.DeskOccupancy, {"remarks": []}),
    (dte.Contact(state="CLOSED"), dte.Contact, {"state": "CLOSED"}),
    (dte.ProbeWireStatus(state="THREE_WIRE"), dte.ProbeWireStatus, {"state": "THREE_WIRE"}),
]


def test_type_sets_match_the_sdk() -> None:
    assert set(dte.EVENT_TYPES) == EVENT_TYPES
    assert set(eventdata._FIELDS) == EVENT_TYPES, "every event type has its validator"
    assert {case[0].event_type for case in SDK_CASES} == EVENT_TYPES
    assert set(disruptive.Device.DEVICE_TYPES) == DEVICE_TYPES


@pytest.mark.parametrize(
    ("event", "cls", "expected"),
    SDK_CASES,
    ids=[f"{case[0].event_type}-{index}" for index, case in enumerate(SDK_CASES)],
)
def test_sdk_published_bodies_round_trip(event: Any, cls: type, expected: dict[str, Any]) -> None:
    event_type, data = parse_publish(sdk_body(event), NOW)
    assert event_type == event.event_type
    parsed = sdk_parse(event_type, data)
    assert isinstance(parsed.data, cls)
    assert parsed.event_type == event_type
    assert parsed.device_id == "d1"
    expected = {"timestamp": NOW} | expected
    assert {name: getattr(parsed.data, name) for name in expected} == expected


def test_labels_changed_data_is_bare() -> None:
    assert parse_publish({"labelsChanged": {"removed": ["a"]}}, NOW) == (
        "labelsChanged",
        {"added": {}, "modified": {}, "removed": ["a"]},
    )


def test_update_time_and_samples_filled_when_absent() -> None:
    assert parse_publish({"touch": {}}, NOW) == ("touch", {"touch": {"updateTime": NOW_TEXT}})
    _, data = parse_publish({"temperature": {"value": 20}}, NOW)
    assert data == {
        "temperature": {
            "value": 20.0,
            "updateTime": NOW_TEXT,
            "samples": [{"value": 20.0, "sampleTime": NOW_TEXT}],
            "isBackfilled": False,
        }
    }
    _, data = parse_publish({"humidity": {"temperature": 1, "relativeHumidity": 2}}, NOW)
    assert data["humidity"]["samples"] == [
        {"temperature": 1.0, "relativeHumidity": 2.0, "sampleTime": NOW_TEXT}
    ]


def test_given_update_time_is_normalised_and_used_for_samples() -> None:
    body = {"temperature": {"value": 1, "updateTime": "2021-05-06T09:30:01.25+02:00"}}
    _, data = parse_publish(body, NOW)
    assert data["temperature"]["updateTime"] == GIVEN_TEXT
    assert data["temperature"]["samples"][0]["sampleTime"] == GIVEN_TEXT


def test_sdk_snake_case_cloud_connectors_are_accepted() -> None:
    body = sdk_body(dte.NetworkStatus(cloud_connectors=[CCON("ccon1", 55, -70)]))
    assert body == {"networkStatus": {"cloud_connectors": [{"id": "ccon1", "signalStrength": 55}]}}
    _, data = parse_publish(body, NOW)
    assert data["networkStatus"]["cloudConnectors"] == [
        {"id": "ccon1", "signalStrength": 55, "rssi": 0}
    ]


def test_error_codes_may_be_integers_or_strings() -> None:
    errors = [{"code": 404, "message": "Not found"}, {"code": "code", "message": "message"}]
    body = {"cellularStatus": {"signalStrength": 3, "errors": errors}}
    assert parse_publish(body, NOW)[1]["cellularStatus"]["errors"] == errors


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW, NOW_TEXT),
        (GIVEN, GIVEN_TEXT),
        (datetime(2022, 1, 1), "2022-01-01T00:00:00.000000Z"),
        (datetime(5, 1, 1, tzinfo=UTC), "0005-01-01T00:00:00.000000Z"),
    ],
)
def test_format_timestamp(moment: datetime, text: str) -> None:
    assert format_timestamp(moment) == text


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        (NOW_TEXT, NOW),
        ("2021-05-06t09:30:01.25+02:00", GIVEN),
        ("2022-02-10T12:42:13.3139499z", NOW),
        ("2022-02-10T07:12:13.313949-05:30", NOW),
    ],
)
def test_parse_timestamp(text: str, moment: datetime) -> None:
    assert parse_timestamp(text) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2022-02-10T12:42:13",
        "2022-02-10 12:42:13Z",
        "2022-02-10T12:42Z",
        "2022-02-30T12:42:13Z",
        "2022-02-10T12:42:60Z",
        "2022-02-10T12:42:13+24:00",
        "0001-01-01T00:00:00+01:00",
        "2022-02-10T12:42:13.Z",
        "२०२२-02-10T12:42:13Z",
        "yesterday",
    ],
)
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(InvalidEventData, match="RFC 3339"):
        parse_timestamp(text)


def _normalised(text: str) -> str | None:
    """What the full parse makes of `text`, or None when it refuses it."""
    try:
        return format_timestamp(parse_timestamp(text))
    except InvalidEventData:
        return None


# The shape of what format_timestamp writes, with look-alikes: other separators, other digits.
_CANONICAL_SHAPE = st.from_regex(
    r"\A[0-9२]{4}[-/][0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}[.,][0-9]{6}[Zz]\Z"
)


@settings(max_examples=500)
@given(_CANONICAL_SHAPE)
def test_the_fast_path_for_written_timestamps_agrees_with_the_full_parse(text: str) -> None:
    expected = _normalised(text)
    if expected is None:
        with pytest.raises(InvalidEventData, match="RFC 3339"):
            checks.timestamp(text, "t")
    else:
        assert checks.timestamp(text, "t") == expected


def test_a_written_timestamp_is_kept_as_it_is() -> None:
    assert checks.timestamp(NOW_TEXT, "t") is NOW_TEXT
    assert checks.timestamp("2022-02-10t12:42:13.313949Z", "t") == NOW_TEXT
    for refused in ("2022-02-30T12:42:13.313949Z", "2022-02-10T12:42:13,313949Z"):
        with pytest.raises(InvalidEventData, match="RFC 3339"):
            checks.timestamp(refused, "t")


REJECTIONS: list[tuple[object, str]] = [
    ([], "the body must be a JSON object"),
    ({}, "the body must have exactly one key"),
    ({"touch": {}, "co2": {"ppm": 1}}, "the body must have exactly one key"),
    ({"ping": {}}, "unknown event type 'ping'"),
    ({"touch": []}, "touch must be an object"),
    ({"touch": {"foo": 1}}, "touch.foo is not a known field"),
    ({"temperature": {"value": 1, "samples": [{"value": 1, "sampleTime": NOW_TEXT, "x": 1}]}},
     "temperature.samples[0].x is not a known field"),
    ({"temperature": {}}, "temperature.value is required"),
    ({"temperature": {"value": 1, "samples": [{"value": 1}]}},
     "temperature.samples[0].sampleTime is required"),
    ({"temperature": {"value": "1"}}, "temperature.value must be a number"),
    ({"temperature": {"value": True}}, "temperature.value must be a number"),
    ({"temperature": {"value": float("nan")}}, "temperature.value must be a finite number"),
    ({"pressure": {"pascal": float("inf")}}, "pressure.pascal must be a finite number"),
    ({"pressure": {"pascal": 10**400}}, "pressure.pascal must be a finite number"),
    ({"temperature": {"value": 1, "isBackfilled": "false"}},
     "temperature.isBackfilled must be true or false"),
    ({"temperature": {"value": 1, "samples": {}}}, "temperature.samples must be a list"),
    ({"humidity": {"temperature": 1, "relativeHumidity": 101}},
     "humidity.relativeHumidity must be a number between 0 and 100"),
    ({"touchCount": {"total": 1.5}}, "touchCount.total must be an integer"),
    ({"touchCount": {"total": False}}, "touchCount.total must be an integer"),
    ({"objectPresentCount": {"total": -1}}, "objectPresentCount.total must be an integer between"),
    ({"co2": {"ppm": 2**31}}, "co2.ppm must be an integer between"),
    ({"batteryStatus": {"percentage": 101}}, "batteryStatus.percentage must be an integer between"),
    ({"networkStatus": {"signalStrength": -1}}, "networkStatus.signalStrength must be an integer"),
    ({"networkStatus": {"cloudConnectors": [{"id": "c", "rssi": "x"}]}},
     "networkStatus.cloudConnectors[0].rssi must be an integer"),
    ({"networkStatus": {"cloudConnectors": [], "cloud_connectors": []}},
     "networkStatus.cloudConnectors is given twice"),
    ({"networkStatus": {"transmissionMode": "TURBO"}},
     "networkStatus.transmissionMode must be one of LOW_POWER_STANDARD_MODE"),
    ({"objectPresent": {"state": "MAYBE"}}, "objectPresent.state must be one of PRESENT"),
    ({"waterPresent": {"state": None}}, "waterPresent.state must be one of PRESENT"),
    ({"motion": {"state": "present"}}, "motion.state must be one of MOTION_DETECTED"),
    ({"contact": {"state": "AJAR"}}, "contact.state must be one of OPEN, CLOSED"),
    ({"deskOccupancy": {"state": "BUSY"}}, "deskOccupancy.state must be one of OCCUPIED"),
    ({"probeWireStatus": {"state": "ONE_WIRE"}}, "probeWireStatus.state must be one of"),
    ({"connectionStatus": {"connection": "WIFI"}}, "connectionStatus.connection must be one of"),
    ({"connectionStatus": {"connection": "SDS", "available": ["WIFI"]}},
     "connectionStatus.available[0] must be one of"),
    ({"ethernetStatus": {"macAddress": 1, "ipAddress": ""}},
     "ethernetStatus.macAddress must be a string"),
    ({"ethernetStatus": {"macAddress": "x" * 1025, "ipAddress": ""}},
     "ethernetStatus.macAddress must be at most 1024 characters"),
    ({"ethernetStatus": {"macAddress": "\ud800", "ipAddress": ""}},
     "ethernetStatus.macAddress must be valid Unicode text"),
    ({"cellularStatus": {"signalStrength": 1, "errors": [{"code": [], "message": ""}]}},
     "cellularStatus.errors[0].code must be an integer or a string"),
    ({"deskOccupancy": {"state": "OCCUPIED", "remarks": [1]}},
     "deskOccupancy.remarks[0] must be a string"),
    ({"deskOccupancy": {"state": "OCCUPIED", "remarks": ["a"] * 257}},
     "deskOccupancy.remarks must have at most 256 items"),
    ({"labelsChanged": {"added": []}}, "labelsChanged.added must be an object of strings"),
    ({"labelsChanged": {"added": {"k": 1}}}, "labelsChanged.added.k must be a string"),
    ({"labelsChanged": {"added": {"k" * 1025: ""}}}, "labelsChanged.added key"),
    ({"labelsChanged": {"modified": {str(i): "" for i in range(257)}}},
     "labelsChanged.modified must have at most 256 entries"),
    ({"labelsChanged": {"updateTime": NOW_TEXT}}, "labelsChanged.updateTime is not a known field"),
    ({"touch": {"updateTime": "yesterday"}}, "touch.updateTime must be an RFC 3339 timestamp"),
    ({"touch": {"updateTime": "2022-02-10T12:42:13"}}, "touch.updateTime must be an RFC 3339"),
    ({"touch": {"updateTime": 1644496933}}, "touch.updateTime must be an RFC 3339 timestamp"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), REJECTIONS, ids=[m for _, m in REJECTIONS])
def test_rejections_name_the_field(body: object, message: str) -> None:
    with pytest.raises(InvalidEventData, match=f"^{re.escape(message)}"):
        parse_publish(body, NOW)


def test_invalid_event_data_is_a_value_error() -> None:
    assert issubclass(InvalidEventData, ValueError)


FIELD_NAMES = sorted({
    "value", "updateTime", "update_time", "samples", "sampleTime", "isBackfilled", "state",
    "temperature", "relativeHumidity", "total", "signalStrength", "rssi", "cloudConnectors",
    "cloud_connectors", "id", "transmissionMode", "percentage", "added", "modified", "removed",
    "connection", "available", "macAddress", "ipAddress", "errors", "code", "message", "ppm",
    "pascal", "remarks", "other",
})  # fmt: skip
PLAUSIBLE = st.sampled_from([
    NOW_TEXT, "2021-05-06T09:30:01+02:00", "PRESENT", "NOT_PRESENT", "OCCUPIED", "CLOSED",
    "LOW_POWER_STANDARD_MODE", "ETHERNET", "SDS", "THREE_WIRE", "MOTION_DETECTED", 0, 50, 100,
])  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON_VALUES = st.recursive(
    SCALARS | PLAUSIBLE,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
BODIES = JSON_VALUES | st.dictionaries(
    st.sampled_from(sorted(EVENT_TYPES)) | st.text(max_size=8), JSON_VALUES, max_size=2
)
VALID_BODIES = [sdk_body(event) for event, _, _ in SDK_CASES] + [
    {event_type: data if event_type == "labelsChanged" else data[event_type]}
    for event_type, data in (parse_publish(sdk_body(event), NOW) for event, _, _ in SDK_CASES)
]


def places(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every entry of every object and list inside `value`."""
    if isinstance(value, dict):
        items: list[tuple[Any, object]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    return [p for key, child in items for p in [(*path, key), *places(child, (*path, key))]]


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> object:
    """A valid publish body with one entry replaced, removed or added."""
    body = orjson.loads(orjson.dumps(draw(st.sampled_from(VALID_BODIES))))
    *parents, key = draw(st.sampled_from(places(body)))
    container = body
    for step in parents:
        container = container[step]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "remove" and isinstance(container, dict):
        del container[key]
    elif action == "add" and isinstance(container, dict):
        container[draw(st.sampled_from(FIELD_NAMES))] = draw(JSON_VALUES)
    else:
        container[key] = draw(JSON_VALUES)
    return body


@settings(max_examples=1000, database=None, deadline=None)
@given(BODIES | near_valid_bodies())
def test_only_invalid_event_data_escapes(body: object) -> None:
    try:
        event_type, data = parse_publish(body, NOW)
    except InvalidEventData as error:
        assert str(error)
        return
    # Whatever is accepted is serialisable, stable under re-parsing, and readable by the SDK.
    orjson.dumps(data)
    inner = data if event_type == "labelsChanged" else data[event_type]
    assert parse_publish({event_type: inner}, NOW + timedelta(days=1)) == (event_type, data)
    assert sdk_parse(event_type, data).event_type == event_type
