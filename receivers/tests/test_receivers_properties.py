"""Whatever arrives, `verify` either returns a Push or raises VerificationError — nothing else."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from receivers_testkit import NOW, SECRET, b64url, compact, dt_claims, push_document, raw_token

from receivers import Push, VerificationError, verify
from receivers.adapters.aws_lambda import verify_event

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def json_trees(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | floats
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


# Python's json writes NaN and Infinity, which are not JSON: they test the parsers' strictness.
json_values = json_trees(st.floats())
strict_json_values = json_trees(st.floats(allow_nan=False, allow_infinity=False))
anything = json_values | st.binary(max_size=40) | st.tuples(st.integers()) | st.builds(object)
header_names = st.sampled_from(["X-Dt-Signature", "x-dt-signature", "X-DT-SIGNATURE"]) | st.text(
    max_size=20
)
header_values = st.text(max_size=80) | st.binary(max_size=20) | st.none() | st.integers()
headers = st.dictionaries(header_names, header_values, max_size=4)
jwt_like = st.lists(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.", max_size=60
    ),
    min_size=1,
    max_size=5,
).map(".".join)


def outcome(body: Any, header_map: Any, secret: Any = SECRET, now: float = NOW) -> str:
    try:
        result = verify(body, header_map, secret, now=now)
    except VerificationError as error:
        event(error.reason)
        return error.reason
    assert isinstance(result, Push)
    event("ok")
    return "ok"


@PROPERTY_SETTINGS
@given(body=st.binary(max_size=200), header_map=headers, secret=st.text(max_size=20))
def test_arbitrary_bytes_headers_and_secrets(body: bytes, header_map: Any, secret: str) -> None:
    outcome(body, header_map, secret)


@PROPERTY_SETTINGS
@given(body=anything, header_map=anything | headers, secret=anything | st.just(SECRET))
def test_arguments_of_any_type(body: Any, header_map: Any, secret: Any) -> None:
    outcome(body, header_map, secret)


jwt_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "HS256", "HS512", "none", "RS256"]) | json_values},
    optional={
        "typ": st.just("JWT") | json_values,
        "kid": st.text(max_size=8) | json_values,
        "crit": st.just(["b64"]) | json_values,
        "b64": st.booleans() | json_values,
    },
)
claim_names = st.sampled_from(["checksum", "checksum_sha256", "iat", "exp", "nbf", "jti"])
claim_sets = st.dictionaries(claim_names, json_values, max_size=6)


@PROPERTY_SETTINGS
@given(token=jwt_like | st.text(max_size=120), name=header_names)
def test_arbitrary_tokens(token: str, name: str) -> None:
    outcome(compact(push_document()), {name: token})


@PROPERTY_SETTINGS
@given(
    header=st.just({"alg": "HS256", "typ": "JWT"}) | jwt_headers | json_values,
    payload=claim_sets | json_values,
    secret=st.sampled_from([SECRET, "x"]),
)
def test_correctly_signed_tokens_with_any_header_and_claims(
    header: Any, payload: Any, secret: str
) -> None:
    token = raw_token(json.dumps(header).encode(), json.dumps(payload).encode(), secret)

    outcome(compact(push_document()), {"X-Dt-Signature": token})


@PROPERTY_SETTINGS
@given(
    overrides=st.dictionaries(claim_names, json_values, max_size=4), dropped=st.sets(claim_names)
)
def test_valid_tokens_with_claims_of_wrong_types(
    overrides: dict[str, Any], dropped: set[str]
) -> None:
    body = compact(push_document())
    claims = {**dt_claims(body), **overrides}
    payload = json.dumps({key: value for key, value in claims.items() if key not in dropped})
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', payload.encode())

    outcome(body, {"X-Dt-Signature": token})


@PROPERTY_SETTINGS
@given(body=st.binary(max_size=300) | json_values.map(lambda value: json.dumps(value).encode()))
def test_correctly_signed_arbitrary_bodies(body: bytes) -> None:
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', json.dumps(dt_claims(body)).encode())

    outcome(body, {"x-dt-signature": token})


push_paths = st.sampled_from(
    [
        ("event",),
        ("labels",),
        ("metadata",),
        ("event", "eventId"),
        ("event", "targetName"),
        ("event", "eventType"),
        ("event", "data"),
        ("event", "timestamp"),
        ("metadata", "deviceId"),
        ("metadata", "productNumber"),
    ]
)


@PROPERTY_SETTINGS
@given(path=push_paths, value=strict_json_values | st.text(max_size=40))
def test_correctly_signed_pushes_with_a_field_of_any_value(
    path: tuple[str, ...], value: Any
) -> None:
    document: Any = push_document()
    target = document
    for key in path[:-1]:
        target = target[key] if isinstance(target, dict) else {}
    target[path[-1]] = value
    body = compact(document)
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', json.dumps(dt_claims(body)).encode())

    assert outcome(body, {"X-Dt-Signature": token}) in {"ok", "invalid_push"}


@PROPERTY_SETTINGS
@given(now=st.floats(min_value=NOW - 7200, max_value=NOW + 7200) | st.floats(-1e12, 1e12))
def test_any_clock_reading(now: float) -> None:
    body = compact(push_document())
    token = raw_token(b'{"alg":"HS256","typ":"JWT"}', json.dumps(dt_claims(body)).encode())

    assert outcome(body, {"X-Dt-Signature": token}, now=now) in {"ok", "expired", "not_yet_valid"}


lambda_events = st.dictionaries(
    st.sampled_from(["body", "headers", "isBase64Encoded", "multiValueHeaders", "version"]),
    anything | headers | st.text(max_size=60).map(lambda text: b64url(text.encode())),
    max_size=5,
)


@PROPERTY_SETTINGS
@given(event=lambda_events | anything)
def test_arbitrary_lambda_events(event: Any) -> None:
    with contextlib.suppress(VerificationError):
        verify_event(event, SECRET, now=NOW)
