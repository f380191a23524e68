"""`verify`: what it accepts, and the reason it gives for each thing it rejects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType

import jwt
import pytest
from receivers_testkit import (
    NOW,
    OTHER_SECRET,
    SECRET,
    b64url,
    dt_claims,
    dt_token,
    push_body,
    raw_token,
)

from receivers import (
    DEFAULT_LEEWAY,
    Reason,
    VerificationError,
    Verifier,
    find_signature,
    verify,
    verify_signature,
)

BODY = push_body()


def signed(body: bytes = BODY, **claims: object) -> dict[str, str]:
    return {"X-Dt-Signature": dt_token({**dt_claims(body), **claims})}


def reason_for(body: object, headers: object, secret: object = SECRET, **kwargs: float) -> Reason:
    with pytest.raises(VerificationError) as caught:
        verify(body, headers, secret, now=kwargs.pop("now", NOW), **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


def test_a_signed_push_verifies_and_parses() -> None:
    push = verify(BODY, signed(), SECRET, now=NOW)

    assert push.event.event_id == "c82gg9catj3vmh4248og"
    assert push.event.event_type == "touch"
    assert push.labels == {"name": "touch"}


@pytest.mark.parametrize(
    "name", ["X-Dt-Signature", "x-dt-signature", "X-DT-SIGNATURE", "x-Dt-sIgNaTuRe"]
)
def test_the_header_name_matches_in_any_case(name: str) -> None:
    token = signed()["X-Dt-Signature"]

    assert verify(BODY, {name: token}, SECRET, now=NOW).event.event_type == "touch"


def test_any_mapping_of_headers_is_accepted() -> None:
    headers = MappingProxyType({"content-type": "application/json", **signed()})

    assert verify(BODY, headers, SECRET, now=NOW).event.event_type == "touch"


def test_bytearray_and_memoryview_bodies_verify() -> None:
    assert verify(bytearray(BODY), signed(), SECRET, now=NOW).event.event_type == "touch"
    assert verify(memoryview(BODY), signed(), SECRET, now=NOW).event.event_type == "touch"


def test_a_token_with_only_the_older_sha1_checksum_verifies() -> None:
    headers = {"X-Dt-Signature": dt_token(dt_claims(BODY, sha1_only=True))}

    assert verify(BODY, headers, SECRET, now=NOW).event.event_type == "touch"


def test_a_sha1_only_token_for_another_body_is_a_checksum_mismatch() -> None:
    headers = {"X-Dt-Signature": dt_token(dt_claims(push_body("motion"), sha1_only=True))}

    assert reason_for(BODY, headers) is Reason.CHECKSUM_MISMATCH


def test_the_sha256_checksum_wins_when_both_are_present() -> None:
    headers = signed(checksum="0" * 40)

    assert verify(BODY, headers, SECRET, now=NOW).event.event_type == "touch"


def test_verify_signature_returns_the_claims_without_parsing_the_body() -> None:
    body = b"not json at all"

    claims = verify_signature(body, signed(body), SECRET, now=NOW)

    assert claims.checksum_sha256 == hashlib.sha256(body).hexdigest()
    assert (claims.issued_at, claims.expires_at) == (NOW, NOW + 3600)
    assert claims.token_id == "c82gg99hga35jc2afkeg"


def test_a_missing_header_is_missing_signature() -> None:
    assert reason_for(BODY, {"Content-Type": "application/json"}) is Reason.MISSING_SIGNATURE


def test_an_empty_header_is_missing_signature() -> None:
    assert reason_for(BODY, {"X-Dt-Signature": "  "}) is Reason.MISSING_SIGNATURE


def test_headers_that_are_not_a_mapping_are_missing_signature() -> None:
    assert reason_for(BODY, None) is Reason.MISSING_SIGNATURE
    assert reason_for(BODY, ["X-Dt-Signature"]) is Reason.MISSING_SIGNATURE


def test_two_different_signature_headers_are_malformed() -> None:
    headers = {"X-Dt-Signature": signed()["X-Dt-Signature"], "x-dt-signature": "other"}

    assert reason_for(BODY, headers) is Reason.MALFORMED_TOKEN


def test_the_same_signature_under_two_spellings_verifies() -> None:
    token = signed()["X-Dt-Signature"]

    assert verify(BODY, {"X-Dt-Signature": token, "x-dt-signature": token}, SECRET, now=NOW)


def test_a_non_text_header_value_is_malformed() -> None:
    assert reason_for(BODY, {"X-Dt-Signature": b"abc"}) is Reason.MALFORMED_TOKEN


@pytest.mark.parametrize(
    "token",
    ["abc", "a.b", "a.b.c", "!!!.!!!.!!!", "é.é.é", "\ud800.a.b", "a" * 9000, "..", "a.b.c.d"],
)
def test_garbage_tokens_are_malformed(token: str) -> None:
    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.MALFORMED_TOKEN


def test_claims_that_are_not_an_object_are_malformed() -> None:
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', b"[1,2,3]")

    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.MALFORMED_TOKEN


def test_claims_that_are_not_json_are_malformed() -> None:
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', b"\xff{not json")

    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.MALFORMED_TOKEN


def test_a_token_signed_with_another_secret_is_bad_signature() -> None:
    headers = {"X-Dt-Signature": dt_token(dt_claims(BODY), OTHER_SECRET)}

    assert reason_for(BODY, headers) is Reason.BAD_SIGNATURE


def test_a_tampered_claim_is_bad_signature() -> None:
    header, _, signature = signed()["X-Dt-Signature"].split(".")
    forged = b64url(json.dumps(dt_claims(push_body("motion"))).encode())

    assert reason_for(BODY, {"X-Dt-Signature": f"{header}.{forged}.{signature}"}) is (
        Reason.BAD_SIGNATURE
    )


@pytest.mark.parametrize("algorithm", ["HS384", "HS512", "none"])
def test_tokens_not_signed_with_hs256_are_bad_signature(algorithm: str) -> None:
    header = json.dumps({"alg": algorithm, "typ": "JWT"}).encode()
    token = raw_token(header, json.dumps(dt_claims(BODY)).encode())

    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.BAD_SIGNATURE


def test_an_unsigned_alg_none_token_is_bad_signature() -> None:
    header = b64url(b'{"alg":"none","typ":"JWT"}')
    token = f"{header}.{b64url(json.dumps(dt_claims(BODY)).encode())}."

    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.BAD_SIGNATURE


def test_an_expired_token_is_expired() -> None:
    assert reason_for(BODY, signed(), now=NOW + 3600 + DEFAULT_LEEWAY + 1) is Reason.EXPIRED


def test_expiry_allows_the_leeway() -> None:
    assert verify(BODY, signed(), SECRET, now=NOW + 3600 + DEFAULT_LEEWAY - 1)


def test_a_token_issued_in_the_future_is_not_yet_valid() -> None:
    assert reason_for(BODY, signed(), now=NOW - DEFAULT_LEEWAY - 1) is Reason.NOT_YET_VALID


def test_issue_time_allows_the_leeway() -> None:
    assert verify(BODY, signed(), SECRET, now=NOW - DEFAULT_LEEWAY + 1)


def test_a_not_before_in_the_future_is_not_yet_valid() -> None:
    assert reason_for(BODY, signed(nbf=NOW + 600)) is Reason.NOT_YET_VALID


def test_the_leeway_is_configurable() -> None:
    assert reason_for(BODY, signed(), now=NOW + 3601, leeway=0) is Reason.EXPIRED
    assert verify(BODY, signed(), SECRET, now=NOW + 3601 + 100, leeway=200)


def test_the_system_clock_is_the_default() -> None:
    assert reason_for(BODY, signed(), now=None) is Reason.EXPIRED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "claims",
    [
        {"checksum_sha256": 5},
        {"checksum_sha256": ["a"]},
        {"checksum": {"a": 1}},
        {"checksum": None, "checksum_sha256": None},
        {"exp": "soon"},
        {"exp": True},
        {"exp": None},
        {"iat": None},
        {"iat": [NOW]},
        {"iat": 10**400},
        {"nbf": "now"},
        {"jti": 7},
    ],
)
def test_claims_of_the_wrong_type_are_invalid_claims(claims: dict[str, object]) -> None:
    full = {**dt_claims(BODY), **claims}
    token = dt_token({key: value for key, value in full.items() if value is not None})

    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.INVALID_CLAIMS


def test_non_json_constants_in_claims_are_malformed() -> None:
    payload = json.dumps({**dt_claims(BODY), "exp": float("inf")}).encode()
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', payload)

    assert reason_for(BODY, {"X-Dt-Signature": token}) is Reason.MALFORMED_TOKEN


def test_a_tampered_body_is_a_checksum_mismatch() -> None:
    assert reason_for(BODY.replace(b"touch", b"t0uch"), signed()) is Reason.CHECKSUM_MISMATCH


def test_re_serialised_json_is_a_checksum_mismatch() -> None:
    pretty = json.dumps(json.loads(BODY)).encode()

    assert reason_for(pretty, signed()) is Reason.CHECKSUM_MISMATCH


def test_a_non_ascii_checksum_claim_is_a_checksum_mismatch() -> None:
    assert reason_for(BODY, signed(checksum_sha256="é" * 64)) is Reason.CHECKSUM_MISMATCH


def test_a_correctly_signed_body_that_is_not_json_is_malformed_body() -> None:
    body = b"\x00\xff not json"

    assert reason_for(body, signed(body)) is Reason.MALFORMED_BODY


def test_a_correctly_signed_json_body_that_is_not_a_push_is_invalid_push() -> None:
    body = b'{"hello": "world"}'

    assert reason_for(body, signed(body)) is Reason.INVALID_PUSH


@pytest.mark.parametrize("body", ["text", None, 42, [1, 2]])
def test_a_body_that_is_not_bytes_is_malformed_body(body: object) -> None:
    assert reason_for(body, signed()) is Reason.MALFORMED_BODY


@pytest.mark.parametrize("secret", ["", None, b"bytes", 42, "\udcff"])
def test_an_unusable_secret_is_secret_not_configured(secret: object) -> None:
    assert reason_for(BODY, signed(), secret) is Reason.SECRET_NOT_CONFIGURED


def test_a_secret_that_looks_like_a_public_key_is_secret_not_configured() -> None:
    secret = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"

    assert reason_for(BODY, signed(), secret) is Reason.SECRET_NOT_CONFIGURED


def test_a_short_secret_verifies_without_any_warning() -> None:
    headers = {"X-Dt-Signature": dt_token(dt_claims(BODY), "test-secret")}

    # filterwarnings=error turns a key-length warning from PyJWT into a failure here.
    assert verify(BODY, headers, "test-secret", now=NOW).event.event_type == "touch"


def test_the_error_names_its_reason_and_never_the_token_or_secret() -> None:
    token = dt_token(dt_claims(BODY), OTHER_SECRET)
    with pytest.raises(VerificationError) as caught:
        verify(BODY, {"X-Dt-Signature": token}, SECRET, now=NOW)

    message = str(caught.value)
    assert message.startswith("bad_signature: ")
    assert token not in message and SECRET not in message and OTHER_SECRET not in message


def test_reasons_are_plain_strings() -> None:
    assert isinstance(Reason.CHECKSUM_MISMATCH, str)
    assert f"{Reason.CHECKSUM_MISMATCH}" == "checksum_mismatch"
    assert json.dumps({"reason": Reason.EXPIRED}) == '{"reason": "expired"}'


def test_find_signature_strips_surrounding_whitespace() -> None:
    assert find_signature({"x-dt-signature": " abc.def.ghi \t"}) == "abc.def.ghi"


def test_a_verifier_uses_its_clock_and_hides_its_secret() -> None:
    verifier = Verifier(SECRET, clock=lambda: NOW)

    assert verifier.verify(BODY, signed()).event.event_type == "touch"
    assert SECRET not in repr(verifier)


@pytest.mark.parametrize("secret", ["", None])
def test_a_verifier_without_a_secret_fails_at_construction(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        Verifier(secret)


def test_tokens_from_pyjwt_encode_decode_with_pyjwt_too() -> None:
    token = signed()["X-Dt-Signature"]

    claims: Mapping[str, object] = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims["checksum_sha256"] == hashlib.sha256(BODY).hexdigest()
