"""The asymmetric and Standard Webhooks verifiers: good pushes pass, each bad input fails with
its reason, and hostile input of any shape raises only VerificationError."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receivers_testkit import NOW, compact, push_document
from standardwebhooks.webhooks import Webhook

from receivers import Push, Reason, VerificationError, verify_standard_webhooks
from receivers.asymmetric import AsymmetricVerifier

ISSUER = "https://gw.example.com/data-connector"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
BODY = compact(push_document())
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "use": "sig", "alg": "ES256"}


def token(body: bytes = BODY, *, key: Any = KEY, kid: str = "k1", **changes: Any) -> str:
    claims = {"checksum_sha256": hashlib.sha256(body).hexdigest(), "exp": NOW + 300,
              "iat": NOW, "iss": ISSUER, "sub": "project-1", **changes}
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, "ES256", headers={"kid": kid})


def pinned(**options: Any) -> AsymmetricVerifier:
    return AsymmetricVerifier(jwks={"keys": [jwk(KEY, "k1")]}, issuer=ISSUER,
                              clock=lambda: NOW, **options)


def reason(call: Any) -> Reason:
    with pytest.raises(VerificationError) as caught:
        call()
    return caught.value.reason


def test_a_pinned_key_set_verifies_a_push() -> None:
    push = pinned().verify(BODY, {"dt-asymmetric-signature": token()})
    assert isinstance(push, Push)


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, Reason.MISSING_SIGNATURE),
    ({"DT-Asymmetric-Signature": "not.a.jwt"}, Reason.MALFORMED_TOKEN),
    ({"DT-Asymmetric-Signature": token(kid="k2")}, Reason.UNKNOWN_KEY),
    ({"DT-Asymmetric-Signature": token(key=OTHER_KEY)}, Reason.BAD_SIGNATURE),
    ({"DT-Asymmetric-Signature": token(iss="https://evil/data-connector")}, Reason.INVALID_CLAIMS),
    ({"DT-Asymmetric-Signature": token(exp=NOW - 100)}, Reason.EXPIRED),
    ({"DT-Asymmetric-Signature": token(iat=NOW + 100)}, Reason.NOT_YET_VALID),
    ({"DT-Asymmetric-Signature": token(b"other")}, Reason.CHECKSUM_MISMATCH),
    ({"DT-Asymmetric-Signature": token(checksum_sha256=None, checksum="x")},
     Reason.INVALID_CLAIMS),
    ({"DT-Asymmetric-Signature": jwt.encode({"iss": ISSUER}, "k" * 32, "HS256",
                                            headers={"kid": "k1"})}, Reason.BAD_SIGNATURE),
])
def test_each_bad_input_has_its_reason(headers: dict[str, str], expected: Reason) -> None:
    assert reason(lambda: pinned().verify(BODY, headers)) == expected


def test_the_subject_is_checked_when_given() -> None:
    headers = {"DT-Asymmetric-Signature": token()}
    assert pinned(subject="project-1").verify(BODY, headers)
    assert reason(lambda: pinned(subject="other").verify(BODY, headers)) == Reason.INVALID_CLAIMS


class KeyServer:
    """A discovery document and JWKS over real HTTP, counting the JWKS fetches."""

    def __init__(self) -> None:
        self.keys = [jwk(KEY, "k1")]
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 -- the stdlib's name
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                if self.path == "/data-connector/.well-known/openid-configuration":
                    document: Any = {"issuer": ISSUER, "jwks_uri": base + "/jwks"}
                else:
                    outer.fetches += 1
                    document = {"keys": outer.keys}
                raw = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (f"http://127.0.0.1:{self.server.server_address[1]}"
                    "/data-connector/.well-known/openid-configuration")


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_discovery_is_cached_and_refetched_on_an_unknown_kid_once_a_minute(
    key_server: KeyServer,
) -> None:
    now = [float(NOW)]
    verifier = AsymmetricVerifier(key_server.url, clock=lambda: now[0])
    for _ in range(3):
        verifier.verify(BODY, {"DT-Asymmetric-Signature": token()})
    assert key_server.fetches == 1

    key_server.keys.append(jwk(OTHER_KEY, "k2"))  # the sender rotates its key
    rotated = {"DT-Asymmetric-Signature": token(key=OTHER_KEY, kid="k2")}
    now[0] += 61
    assert verifier.verify(BODY, rotated)  # an unknown kid: the keys are fetched again
    assert key_server.fetches == 2
    unknown = {"DT-Asymmetric-Signature": token(kid="k3")}
    for _ in range(5):
        assert reason(lambda: verifier.verify(BODY, unknown)) == Reason.UNKNOWN_KEY
    assert key_server.fetches == 2  # not again within the minute
    now[0] += 61
    assert reason(lambda: verifier.verify(BODY, unknown)) == Reason.UNKNOWN_KEY
    assert key_server.fetches == 3
    assert verifier.verify(BODY, {"DT-Asymmetric-Signature": token()})  # old key still cached


def test_unreachable_keys_are_a_verification_error() -> None:
    verifier = AsymmetricVerifier("http://127.0.0.1:9/none", timeout=1, clock=lambda: NOW)
    assert reason(lambda: verifier.verify(BODY, {"DT-Asymmetric-Signature": token()})) == (
        Reason.KEYS_UNAVAILABLE
    )


def signed(body: bytes = BODY, secret: str = WHSEC, stamp: int = NOW) -> dict[str, str]:
    signature = Webhook(secret).sign("msg_1", _moment(stamp), body.decode())
    return {"webhook-id": "msg_1", "webhook-timestamp": str(stamp), "webhook-signature": signature}


def _moment(stamp: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC)


def test_standard_webhooks_accepts_any_one_matching_signature() -> None:
    old, new = signed(secret=WHSEC), signed(secret="whsec_" + "QUJD" * 8)
    both = {**new, "webhook-signature": f"{old['webhook-signature']} {new['webhook-signature']}"}
    assert verify_standard_webhooks(BODY, both, WHSEC, now=NOW)
    assert verify_standard_webhooks(BODY, both, ["whsec_" + "QUJD" * 8], now=NOW)
    assert reason(lambda: verify_standard_webhooks(BODY, both, "whsec_" + "WFla" * 8, now=NOW)) \
        == Reason.BAD_SIGNATURE


@pytest.mark.parametrize(("headers", "now", "expected"), [
    ({}, NOW, Reason.MISSING_SIGNATURE),
    ({**signed(), "webhook-timestamp": "12a"}, NOW, Reason.MALFORMED_TOKEN),
    (signed(), NOW + 301, Reason.EXPIRED),
    (signed(), NOW - 301, Reason.NOT_YET_VALID),
    ({**signed(), "webhook-signature": "v1,!!!"}, NOW, Reason.BAD_SIGNATURE),
    ({**signed(), "webhook-id": "msg_2"}, NOW, Reason.BAD_SIGNATURE),
])
def test_standard_webhooks_bad_input(headers: dict[str, str], now: int, expected: Reason) -> None:
    assert reason(lambda: verify_standard_webhooks(BODY, headers, WHSEC, now=now)) == expected


def test_a_tampered_body_fails_standard_webhooks() -> None:
    assert reason(lambda: verify_standard_webhooks(BODY + b" ", signed(), WHSEC, now=NOW)) == (
        Reason.BAD_SIGNATURE
    )


values = st.text(max_size=60) | st.binary(max_size=20) | st.none() | st.integers()
names = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature",
                         "DT-Asymmetric-Signature"]) | st.text(max_size=10)
hostile_headers = st.dictionaries(names, values, max_size=5) | st.builds(object) | st.none()
hostile_secrets = st.text(max_size=40) | st.lists(st.text(max_size=20), max_size=3) | values


@PROPERTIES
@given(body=st.binary(max_size=100) | values, headers=hostile_headers, secrets=hostile_secrets,
       now=st.integers(-(2**40), 2**40))
def test_standard_webhooks_raises_only_its_error(
    body: Any, headers: Any, secrets: Any, now: int
) -> None:
    try:
        verify_standard_webhooks(body, headers, secrets, now=now)
    except VerificationError:
        pass


segments = st.text(alphabet="ABCDEFabcdef0123456789-_.=", max_size=80)
jwt_header = st.fixed_dictionaries({"alg": st.sampled_from(["ES256", "HS256", "none"]) | values},
                                   optional={"kid": st.just("k1") | values})


@PROPERTIES
@given(body=st.binary(max_size=100), token_text=segments | st.text(max_size=60),
       header=jwt_header, claims=st.dictionaries(st.sampled_from(
           ["checksum_sha256", "iat", "exp", "iss", "sub"]), values, max_size=5))
def test_the_asymmetric_verifier_raises_only_its_error(
    body: bytes, token_text: str, header: Any, claims: Any
) -> None:
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    crafted = ".".join([b64(json.dumps(header, default=str).encode()),
                        b64(json.dumps(claims, default=str).encode()), b64(b"x" * 64)])
    for candidate in (token_text, crafted):
        try:
            pinned().verify(body, {"DT-Asymmetric-Signature": candidate})
        except VerificationError:
            pass
