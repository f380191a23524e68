"""The Flask / functions-framework adapter, driven through Flask's test client."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import flask
import functions_framework
import pytest
from flask.typing import ResponseReturnValue
from gateway.push.signing import sign_body
from receivers_testkit import EXAMPLES, NOW, OTHER_SECRET, SECRET, push_body

from receivers import Deduplicator, Push
from receivers.adapters.flask import verified

BODY = push_body()


def signed_headers(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Dt-Signature": sign_body(body, secret, now=NOW)}


def make_app(
    status: int = 200, dedupe: Deduplicator | None = None
) -> tuple[flask.Flask, list[Push]]:
    app = flask.Flask(__name__)
    received: list[Push] = []

    @app.post("/hooks/<name>")
    @verified(secret=SECRET, clock=lambda: NOW, dedupe=dedupe)
    def hook(push: Push, name: str) -> ResponseReturnValue:
        received.append(push)
        return {"hook": name, "eventId": push.event.event_id}, status

    return app, received


def test_a_verified_push_reaches_the_handler_with_the_view_arguments() -> None:
    app, received = make_app()

    response = app.test_client().post("/hooks/main", data=BODY, headers=signed_headers())

    assert response.status_code == 200
    assert response.json == {"hook": "main", "eventId": "c82gg9catj3vmh4248og"}
    assert [push.event.event_type for push in received] == ["touch"]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (BODY + b" ", signed_headers()),
        (BODY, signed_headers(secret=OTHER_SECRET)),
        (BODY, {"Content-Type": "application/json"}),
    ],
    ids=["tampered-body", "wrong-secret", "missing-header"],
)
def test_an_unverified_push_is_answered_400_without_calling_the_handler(
    body: bytes, headers: dict[str, str]
) -> None:
    app, received = make_app()

    response = app.test_client().post("/hooks/main", data=body, headers=headers)

    assert (response.status_code, response.text) == (400, "Could not verify request.")
    assert received == []


def test_a_rejection_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = make_app()

    with caplog.at_level(logging.WARNING, logger="receivers"):
        app.test_client().post("/hooks/main", data=BODY, headers={"X-Dt-Signature": "x.y.z"})

    assert [record.getMessage() for record in caplog.records] == [
        "push_rejected reason=malformed_token detail=the token cannot be decoded"
    ]


def test_the_raw_body_is_hashed_even_for_form_content_types() -> None:
    app, received = make_app()
    headers = {**signed_headers(), "Content-Type": "application/x-www-form-urlencoded"}

    response = app.test_client().post("/hooks/main", data=BODY, headers=headers)

    assert response.status_code == 200 and len(received) == 1


def test_the_secret_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_SIGNATURE_SECRET", SECRET)
    app = flask.Flask(__name__)

    @app.post("/")
    @verified
    def hook(push: Push) -> ResponseReturnValue:
        return push.event.event_type, 200

    # The bare decorator uses the system clock, so sign with it too.
    response = app.test_client().post(
        "/", data=BODY, headers={"X-Dt-Signature": sign_body(BODY, SECRET)}
    )

    assert (response.status_code, response.text) == (200, "touch")


def test_a_missing_secret_fails_at_decoration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DT_SIGNATURE_SECRET", raising=False)

    with pytest.raises(ValueError, match="DT_SIGNATURE_SECRET"):
        verified(lambda push: ("OK", 200))


def test_an_empty_secret_fails_at_decoration() -> None:
    with pytest.raises(ValueError, match="DT_SIGNATURE_SECRET"):
        verified(secret="")


def test_a_duplicate_event_is_acknowledged_without_calling_the_handler() -> None:
    app, received = make_app(dedupe=Deduplicator())
    client = app.test_client()

    first = client.post("/hooks/main", data=BODY, headers=signed_headers())
    again = client.post("/hooks/main", data=BODY, headers=signed_headers())

    assert (first.status_code, again.status_code, again.text) == (200, 200, "OK")
    assert len(received) == 1


def test_a_failed_delivery_is_processed_again_on_redelivery() -> None:
    dedupe = Deduplicator()
    app, received = make_app(status=503, dedupe=dedupe)
    client = app.test_client()

    client.post("/hooks/main", data=BODY, headers=signed_headers())
    client.post("/hooks/main", data=BODY, headers=signed_headers())

    assert len(received) == 2
    assert "c82gg9catj3vmh4248og" not in dedupe


def test_a_handler_that_raises_releases_the_event_id() -> None:
    dedupe = Deduplicator()
    app = flask.Flask(__name__)

    @app.post("/")
    @verified(secret=SECRET, clock=lambda: NOW, dedupe=dedupe)
    def hook(push: Push) -> ResponseReturnValue:
        raise RuntimeError("database down")

    response = app.test_client().post("/", data=BODY, headers=signed_headers())

    assert response.status_code == 500
    assert "c82gg9catj3vmh4248og" not in dedupe


@pytest.fixture
def cloud_function(monkeypatch: pytest.MonkeyPatch) -> Iterator[flask.testing.FlaskClient]:
    monkeypatch.setenv("DT_SIGNATURE_SECRET", SECRET)
    source = Path(EXAMPLES, "cloud_function", "main.py")
    app = functions_framework.create_app("dataconnector_endpoint", str(source))  # type: ignore[no-untyped-call]
    yield app.test_client()


def test_the_cloud_function_example_in_process(cloud_function: flask.testing.FlaskClient) -> None:
    body = push_body("co2", data={"co2": {"ppm": 500, "updateTime": "2024-01-01T00:00:00Z"}})
    headers = {"x-dt-signature": sign_body(body, SECRET)}

    ok = cloud_function.post("/", data=body, headers=headers)
    tampered = cloud_function.post("/", data=body.replace(b"500", b"900"), headers=headers)

    assert (ok.status_code, ok.text) == (200, "OK")
    assert (tampered.status_code, tampered.text) == (400, "Could not verify request.")
