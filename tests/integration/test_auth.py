"""Basic auth and the OAuth2 JWT-bearer grant, with assertions signed the way the SDK signs them."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from typing import Any

import jwt as pyjwt
import pytest
from disruptive.authentication import create_jwt

from gateway.api import auth
from gateway.config import Settings
from tests.harness import Account, Gateway

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PUBLIC_URL = "https://gateway.example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # These tests fail many sign-ins on purpose; the limit on that has tests of its own.
    return replace(settings, public_url=PUBLIC_URL + "/", auth_failure_limit=1000)


def token_url(gateway: Gateway) -> str:
    return str(gateway.client.make_url("/oauth2/token"))


def assertion(account: Account, audience: str, **overrides: Any) -> str:
    """A JWT built exactly as disruptive/authentication.py builds it."""
    secret = overrides.pop("secret", account.secret)
    kid = overrides.pop("kid", account.key_id)
    now = overrides.pop("now", int(time.time()))
    claims = {"iat": now, "exp": now + 3600, "aud": audience, "iss": account.email, **overrides}
    return create_jwt(payload=claims, secret=secret, algorithm="HS256",
                      headers={"alg": "HS256", "kid": kid})


async def exchange(gateway: Gateway, jwt_text: str, expect: int = 200) -> Any:
    form = {"assertion": jwt_text, "grant_type": GRANT}
    return await gateway.call("POST", "/oauth2/token", None, expect=expect, data=form)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def list_path(account: Account) -> str:
    return f"/v2/projects/{account.project_id}/dataconnectors"


def assert_error(body: Any, code: int) -> None:
    assert set(body) == {"error", "code", "help"}
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]


async def test_basic_auth_lets_the_account_in(gateway: Gateway) -> None:
    account = await gateway.project()
    body = await gateway.call("GET", list_path(account), account)
    assert body == {"dataConnectors": [], "nextPageToken": ""}


BAD_HEADERS = [
    None,
    "",
    "Basic",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "Basic " + base64.b64encode(b"unknown-key:secret").decode(),
    "Basic " + base64.b64encode(b"nul\x00key:secret").decode(),
    "Bearer",
    "Bearer not-a-token",
    "Digest abc",
]


async def test_bad_credentials_are_401(gateway: Gateway) -> None:
    account = await gateway.project()
    for header in BAD_HEADERS:
        headers = {} if header is None else {"Authorization": header}
        body = await gateway.call("GET", list_path(account), None, expect=401, headers=headers)
        assert_error(body, 401)


async def test_basic_auth_with_the_wrong_secret_is_401(gateway: Gateway) -> None:
    account = await gateway.project()
    other = await gateway.project()
    raw = f"{account.key_id}:{other.secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    body = await gateway.call("GET", list_path(account), None, expect=401, headers=headers)
    assert_error(body, 401)


async def test_sdk_style_assertion_gets_a_bearer_token(gateway: Gateway) -> None:
    account = await gateway.project()
    answer = await exchange(gateway, assertion(account, token_url(gateway)))
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    body = await gateway.call(
        "GET", list_path(account), None, headers=bearer(answer["access_token"])
    )
    assert body["dataConnectors"] == []


async def test_public_url_is_an_accepted_audience(gateway: Gateway) -> None:
    account = await gateway.project()
    await exchange(gateway, assertion(account, PUBLIC_URL + "/oauth2/token"))
    body = await exchange(gateway, assertion(account, "https://evil.example.com/oauth2/token"), 401)
    assert_error(body, 401)


async def test_bearer_token_lasts_one_hour(gateway: Gateway) -> None:
    account = await gateway.project()
    answer = await exchange(gateway, assertion(account, token_url(gateway)))
    headers = bearer(answer["access_token"])
    gateway.clock.advance(3599)
    await gateway.call("GET", list_path(account), None, headers=headers)
    gateway.clock.advance(2)
    body = await gateway.call("GET", list_path(account), None, expect=401, headers=headers)
    assert_error(body, 401)


async def test_bearer_token_carries_the_accounts_role(gateway: Gateway) -> None:
    account = await gateway.project(auth.USER)
    answer = await exchange(gateway, assertion(account, token_url(gateway)))
    body = await gateway.call(
        "POST", list_path(account), None, expect=403, headers=bearer(answer["access_token"]),
        json={"httpConfig": {"url": "https://example.com/hook"}},
    )
    assert_error(body, 403)


BAD_ASSERTIONS: dict[str, dict[str, Any]] = {
    "aud of DT": {"aud": "https://identity.disruptive-technologies.com/oauth2/token"},
    "empty aud": {"aud": ""},
    "other iss": {"iss": "someone-else@example.com"},
    "unknown kid": {"kid": "unknown-key"},
    "kid with NUL": {"kid": "nul\x00key"},
    "wrong secret": {"secret": "x" * 86},
    "exp = iat + 3601": {"exp_offset": 3601},
    "exp = iat + 7200": {"exp_offset": 7200},
    "expired": {"now_offset": -7200},
    "expired 100 s ago": {"now_offset": -3700},
    "iat in the future": {"now_offset": 600},
    "exp as text": {"exp": "9999999999"},
    "exp as list": {"exp": [1]},
    "iat as text": {"iat": "1"},
    "iat as float": {"iat": 1.5},
    "iat null": {"iat": None},
    "exp null": {"exp": None},
    "aud as number": {"aud": 5},
    "iss as list": {"iss": ["a"]},
}


async def test_bad_assertions_are_401(gateway: Gateway) -> None:
    account = await gateway.project()
    for name, original in BAD_ASSERTIONS.items():
        change = dict(original)
        now = int(time.time()) + change.pop("now_offset", 0)
        exp = now + change.pop("exp_offset", 3600)
        jwt_text = assertion(account, token_url(gateway), **{"now": now, "exp": exp, **change})
        body = await exchange(gateway, jwt_text, 401)
        assert body["code"] == 401, name


async def test_assertion_missing_a_claim_is_401(gateway: Gateway) -> None:
    account = await gateway.project()
    now = int(time.time())
    for missing in ("iat", "exp", "aud", "iss"):
        claims = {"iat": now, "exp": now + 60, "aud": token_url(gateway), "iss": account.email}
        del claims[missing]
        jwt_text = create_jwt(payload=claims, secret=account.secret, algorithm="HS256",
                              headers={"alg": "HS256", "kid": account.key_id})
        assert_error(await exchange(gateway, jwt_text, 401), 401)


async def test_assertion_lifetime_follows_the_gateway_clock(gateway: Gateway) -> None:
    account = await gateway.project()
    gateway.clock.advance(7200)
    shifted = int(gateway.clock().timestamp())
    await exchange(gateway, assertion(account, token_url(gateway), now=shifted))
    stale = assertion(account, token_url(gateway), now=shifted - 3700)
    assert_error(await exchange(gateway, stale, 401), 401)


def encode_part(part: dict[str, Any]) -> str:
    raw = json.dumps(part, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_only_hs256_is_accepted(gateway: Gateway) -> None:
    account = await gateway.project()
    now = int(time.time())
    claims = {"iat": now, "exp": now + 60, "aud": token_url(gateway), "iss": account.email}
    header = {"alg": "none", "kid": account.key_id, "typ": "JWT"}
    unsigned = f"{encode_part(header)}.{encode_part(claims)}."
    assert_error(await exchange(gateway, unsigned, 401), 401)
    for algorithm in ("HS384", "HS512"):
        other = pyjwt.encode(claims, account.secret, algorithm=algorithm,
                             headers={"kid": account.key_id})
        assert_error(await exchange(gateway, other, 401), 401)


async def test_token_form_errors_are_400(gateway: Gateway) -> None:
    forms: list[dict[str, str]] = [
        {},
        {"grant_type": GRANT},
        {"grant_type": "client_credentials", "assertion": "x"},
        {"grant_type": GRANT, "assertion": ""},
    ]
    for form in forms:
        body = await gateway.call("POST", "/oauth2/token", None, expect=400, data=form)
        assert_error(body, 400)


async def test_malformed_assertions_are_401(gateway: Gateway) -> None:
    for jwt_text in ["x", "a.b.c", "....", "ey.ey.ey", "\u00e9.\u00e9.\u00e9"]:
        assert_error(await exchange(gateway, jwt_text, 401), 401)
