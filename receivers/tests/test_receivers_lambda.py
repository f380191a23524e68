"""The AWS Lambda adapter with API Gateway REST (v1) and HTTP (v2) proxy events."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from gateway.push.signing import sign_body
from receivers_testkit import NOW, OTHER_SECRET, SECRET, push_body

from receivers import Deduplicator, Push, Reason, VerificationError
from receivers.adapters.aws_lambda import event_body, verified, verify_event

BODY = push_body()


def v1_event(body: bytes, signature: str | None, *, base64_body: bool = False) -> dict[str, Any]:
    """A REST API (payload format 1.0) proxy event, as API Gateway sends it."""
    headers = {
        "Content-Type": "application/json",
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
    }
    if signature is not None:
        headers["X-Dt-Signature"] = signature
    return {
        "resource": "/dataconnector",
        "path": "/dataconnector",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/dataconnector",
            "httpMethod": "POST",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "Go-http-client/2.0"},
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def v2_event(body: bytes, signature: str | None, *, base64_body: bool = True) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event: lower-case headers, usually a base64 body."""
    headers = {
        "content-type": "application/json",
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
    }
    if signature is not None:
        headers["x-dt-signature"] = signature
    return {
        "version": "2.0",
        "routeKey": "POST /dataconnector",
        "rawPath": "/dataconnector",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "http": {
                "method": "POST",
                "path": "/dataconnector",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Go-http-client/2.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "POST /dataconnector",
            "stage": "$default",
            "time": "10/Feb/2022:12:42:13 +0000",
            "timeEpoch": 1644496933000,
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


EVENTS = [
    pytest.param(lambda body, sig: v1_event(body, sig), id="v1"),
    pytest.param(lambda body, sig: v1_event(body, sig, base64_body=True), id="v1-base64"),
    pytest.param(lambda body, sig: v2_event(body, sig), id="v2-base64"),
    pytest.param(lambda body, sig: v2_event(body, sig, base64_body=False), id="v2-text"),
]


def make_handler(status: int = 200, dedupe: Deduplicator | None = None) -> tuple[Any, list[Push]]:
    received: list[Push] = []

    @verified(secret=SECRET, clock=lambda: NOW, dedupe=dedupe)
    def lambda_handler(push: Push, event: Any, context: Any) -> dict[str, Any]:
        received.append(push)
        return {"statusCode": status, "body": push.event.event_id}

    return lambda_handler, received


@pytest.mark.parametrize("build", EVENTS)
def test_signed_pushes_verify_from_every_event_format(build: Any) -> None:
    event = build(BODY, sign_body(BODY, SECRET, now=NOW))

    assert verify_event(event, SECRET, now=NOW).event.event_id == "c82gg9catj3vmh4248og"


@pytest.mark.parametrize("build", EVENTS)
def test_the_decorator_answers_200_and_400(build: Any) -> None:
    handler, received = make_handler()
    good = build(BODY, sign_body(BODY, SECRET, now=NOW))
    wrong_secret = build(BODY, sign_body(BODY, OTHER_SECRET, now=NOW))
    tampered = build(BODY.replace(b"touch", b"tauch"), sign_body(BODY, SECRET, now=NOW))
    unsigned = build(BODY, None)

    assert handler(good, None)["statusCode"] == 200
    for event in (wrong_secret, tampered, unsigned):
        assert handler(event, None) == {
            "statusCode": 400,
            "headers": {"Content-Type": "text/plain"},
            "body": "Could not verify request.",
        }
    assert len(received) == 1


def test_a_non_utf8_body_survives_base64_encoding() -> None:
    body = push_body(labels={"name": "k\u00f8kken \u2603"})
    event = v2_event(body, sign_body(body, SECRET, now=NOW))

    assert verify_event(event, SECRET, now=NOW).labels == {"name": "k\u00f8kken \u2603"}


def test_v1_events_with_null_headers_are_missing_signature() -> None:
    event = v1_event(BODY, None)
    event["headers"] = None

    with pytest.raises(VerificationError) as caught:
        verify_event(event, SECRET, now=NOW)
    assert caught.value.reason is Reason.MISSING_SIGNATURE


@pytest.mark.parametrize(
    "change",
    [
        {"body": "%%% not base64 %%%", "isBase64Encoded": True},
        {"body": "é", "isBase64Encoded": True},
        {"body": "\ud800", "isBase64Encoded": False},
        {"body": 42},
    ],
)
def test_undecodable_bodies_are_malformed(change: dict[str, Any]) -> None:
    event = {**v1_event(BODY, sign_body(BODY, SECRET, now=NOW)), **change}

    with pytest.raises(VerificationError) as caught:
        verify_event(event, SECRET, now=NOW)
    assert caught.value.reason is Reason.MALFORMED_BODY


def test_a_missing_body_is_empty() -> None:
    assert event_body({"body": None}) == b""


def test_an_event_that_is_not_an_object_is_malformed() -> None:
    handler, _ = make_handler()

    assert handler("not an event", None)["statusCode"] == 400


def test_duplicates_are_acknowledged_once_and_failures_retried() -> None:
    ok_handler, ok_received = make_handler(dedupe=Deduplicator())
    failing, failed_received = make_handler(status=502, dedupe=Deduplicator())
    event = v2_event(BODY, sign_body(BODY, SECRET, now=NOW))

    assert [ok_handler(copy.deepcopy(event), None)["statusCode"] for _ in "ab"] == [200, 200]
    assert [failing(copy.deepcopy(event), None)["statusCode"] for _ in "ab"] == [502, 502]
    assert (len(ok_received), len(failed_received)) == (1, 2)
