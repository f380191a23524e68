from datetime import UTC, datetime, timedelta

import orjson

from gateway.config import Settings
from gateway.dispatch.retry import retry_delay
from gateway.model import Connector
from gateway.push.body import render_body, request_headers
from gateway.push.post import retry_after_seconds
from gateway.push.signing import SIGNATURE_HEADER

EVENT = orjson.dumps({"eventId": "e1", "targetName": "projects/p/devices/d",
                      "eventType": "touch", "data": {"touch": {"updateTime": "x"}},
                      "timestamp": "x"})
METADATA = {"deviceId": "d", "projectId": "p", "deviceType": "touch", "productNumber": ""}


def test_body_embeds_the_stored_event_bytes_and_only_named_labels() -> None:
    body = render_body(EVENT, {"name": "door", "floor": "2", "room": "a"}, ["floor", "name",
                       "absent"], METADATA)
    assert body.startswith(b'{"event":' + EVENT + b',"labels":')
    assert orjson.loads(body)["labels"] == {"floor": "2", "name": "door"}
    assert list(orjson.loads(body)) == ["event", "labels", "metadata"]


def test_no_labels_named_gives_an_empty_object() -> None:
    assert orjson.loads(render_body(EVENT, {"name": "x"}, [], METADATA))["labels"] == {}


def test_headers_without_a_secret_carry_no_signature() -> None:
    connector = Connector("p", "c", url="https://x", headers={"x-api-key": "k"})
    headers = request_headers(connector, b"{}", 0)
    assert headers == {"Content-Type": "application/json", "x-api-key": "k"}


def test_headers_with_a_secret_carry_a_signature() -> None:
    connector = Connector("p", "c", url="https://x", signature_secret="s" * 40)
    assert SIGNATURE_HEADER in request_headers(connector, b"{}", 0)


def test_retry_after_in_seconds_and_as_a_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_retry_delay_grows_with_the_streak_within_bounds() -> None:
    delay = retry_delay(Settings(retry_base=5, retry_max=100))
    assert timedelta(seconds=4) <= delay(1, None) <= timedelta(seconds=6)
    assert timedelta(seconds=16) <= delay(3, None) <= timedelta(seconds=24)
    assert delay(50, None) <= timedelta(seconds=120)


def test_retry_after_is_honoured_within_bounds() -> None:
    delay = retry_delay(Settings(retry_base=5, retry_max=100))
    assert delay(1, 30) == timedelta(seconds=30)
    assert delay(1, 1) == timedelta(seconds=5)
    assert delay(1, 10_000) == timedelta(seconds=100)
