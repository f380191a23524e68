"""Checking pushes as `listen` and the demo do: the gateway's own signatures verify, and each
kind of bad push is named."""

from __future__ import annotations

import time

import jwt
import orjson
import pytest

from gateway.push.signing import SIGNATURE_HEADER, TOKEN_LIFETIME, sign_body
from gateway.pushcheck import Keys, check_push

SECRET = "listen-secret-0123456789-0123456789"
BODY = orjson.dumps({"event": {"eventId": "e1", "eventType": "touch"}, "labels": {}})


def test_a_push_signed_by_the_gateway_verifies() -> None:
    verdict = check_push(BODY, {SIGNATURE_HEADER: sign_body(BODY, SECRET)}, Keys(SECRET))
    assert verdict.verified
    assert verdict.schemes == ("HS256",)
    assert verdict.push["event"]["eventId"] == "e1"


def test_an_older_token_with_only_the_sha1_checksum_verifies() -> None:
    import hashlib

    now = int(time.time())
    claims = {"checksum": hashlib.sha1(BODY).hexdigest(), "iat": now, "exp": now + 60}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    assert check_push(BODY, {SIGNATURE_HEADER: token}, Keys(SECRET)).verified


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (BODY, {}, "no signature header"),
        (
            BODY,
            {SIGNATURE_HEADER: sign_body(BODY, "another-secret-0123456789-0123456789")},
            "HS256: bad signature",
        ),
        (BODY + b" ", {SIGNATURE_HEADER: sign_body(BODY, SECRET)}, "HS256: checksum mismatch"),
        (BODY, {SIGNATURE_HEADER: "not.a.token"}, "HS256: malformed token"),
        (
            BODY,
            {SIGNATURE_HEADER: sign_body(BODY, SECRET, now=time.time() - 10 * TOKEN_LIFETIME)},
            "HS256: expired",
        ),
        (b"[]", {SIGNATURE_HEADER: sign_body(b"[]", SECRET)}, "the body is not a push"),
    ],
)
def test_a_bad_push_is_named(body: bytes, headers: dict[str, str], reason: str) -> None:
    verdict = check_push(body, headers, Keys(SECRET))
    assert not verdict.verified
    assert verdict.failure.startswith(reason)
    assert SECRET not in verdict.failure
