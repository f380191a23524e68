"""The console's server side over real HTTP and PostgreSQL: sign-in sessions as a credential for
the v2 API (cookie flags, CSRF, expiry, sign-out, roles and tenant walls), the page's security
headers, and the per-minute statistics route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gateway.api import auth
from gateway.api.console import CONTENT_SECURITY_POLICY, COOKIE, CSRF_HEADER, static_files
from gateway.app import create_app
from gateway.clock import ManualClock
from gateway.config import Settings
from tests.harness import Account, Gateway, configured
from tests.integration.helpers import assert_error, snapshot
from tests.receiver import Answer, Receiver


@dataclass
class Session:
    cookie: str
    csrf: str
    answer: dict[str, Any]

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        found = {"Cookie": f"{COOKIE}={self.cookie}"}
        return {**found, CSRF_HEADER: self.csrf} if csrf else found


async def sign_in(gateway: Gateway, account: Account) -> Session:
    body = {"keyId": account.key_id, "secret": account.secret}
    async with gateway.client.post("/console/session", json=body) as response:
        assert response.status == 200, await response.text()
        answer = await response.json()
        cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value
    gateway.client.session.cookie_jar.clear()  # each request below says which cookie it sends
    return Session(cookie, answer["csrfToken"], answer)


async def call(
    gateway: Gateway, method: str, path: str, headers: dict[str, str], expect: int, **kw: Any
) -> Any:
    async with gateway.client.request(method, path, headers=headers, **kw) as response:
        body = await response.json(content_type=None)
        assert response.status == expect, (response.status, body)
        return body


async def test_sign_in_sets_a_strict_http_only_expiring_cookie(gateway: Gateway) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    body = {"keyId": owner.key_id, "secret": owner.secret}
    async with gateway.client.post("/console/session", json=body) as response:
        assert response.status == 200
        answer = await response.json()
        morsel = SimpleCookie(response.headers["Set-Cookie"])[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert morsel["max-age"] == str(int(gateway.settings.console_session_lifetime))
    assert not morsel["secure"]  # plain HTTP here; see the HTTPS test below
    assert answer["keyId"] == owner.key_id
    assert answer["projects"] == [
        {"name": f"projects/{owner.project_id}", "displayName": "test", "role": auth.DEVELOPER}
    ]
    assert len(answer["csrfToken"]) >= 32
    # Only the token's digest is stored: the database holds no usable session.
    rows = await gateway.db.fetch("SELECT token_sha256, csrf_token FROM console_sessions")
    assert [row["token_sha256"] for row in rows] == [auth.digest(morsel.value)]
    assert morsel.value.encode() not in rows[0]["token_sha256"]


async def test_the_cookie_is_secure_behind_an_https_public_url(
    settings: Settings, clock: ManualClock
) -> None:
    https = configured(settings, public_url="https://gateway.example.com")
    client = TestClient(TestServer(create_app(https, clock=clock)))
    await client.start_server()
    try:
        gateway = Gateway(client, https, clock, None)  # type: ignore[arg-type]
        owner = await gateway.project(auth.DEVELOPER)
        body = {"keyId": owner.key_id, "secret": owner.secret}
        # Behind a TLS proxy the page's origin is the public one, not the one the gateway sees.
        origin = {"Origin": "https://gateway.example.com"}
        async with client.post("/console/session", json=body, headers=origin) as response:
            assert response.status == 200
            assert SimpleCookie(response.headers["Set-Cookie"])[COOKIE]["secure"] is True
    finally:
        await client.close()


async def test_failed_sign_ins_count_toward_the_keys_limit(
    settings: Settings, clock: ManualClock
) -> None:
    limited = configured(settings, auth_failure_limit=3)
    client = TestClient(TestServer(create_app(limited, clock=clock)))
    await client.start_server()
    try:
        gateway = Gateway(client, limited, clock, None)  # type: ignore[arg-type]
        owner = await gateway.project(auth.DEVELOPER)
        wrong = {"keyId": owner.key_id, "secret": "not-the-secret"}
        for _ in range(3):
            assert_error(await call(gateway, "POST", "/console/session", {}, 401, json=wrong), 401)
        right = {"keyId": owner.key_id, "secret": owner.secret}
        async with client.post("/console/session", json=right) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert "Set-Cookie" not in response.headers
        # Basic auth with the same key is held back too: one limit per key.
        path = f"/v2/projects/{owner.project_id}/dataconnectors"
        await call(gateway, "GET", path, owner.headers, 429)
    finally:
        await client.close()


async def test_bad_sign_ins_are_refused_and_open_no_session(gateway: Gateway) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    before = await snapshot(gateway.db)
    wrong = {"keyId": owner.key_id, "secret": owner.secret + "x"}
    cases: list[tuple[dict[str, Any], dict[str, str], int]] = [
        ({"json": wrong}, {}, 401),
        ({"json": {"keyId": "c0000000000000000000", "secret": "s"}}, {}, 401),
        ({"json": {"keyId": owner.key_id}}, {}, 400),
        ({"json": {"keyId": owner.key_id, "secret": owner.secret, "role": "admin"}}, {}, 400),
        ({"json": ["not", "an", "object"]}, {}, 400),
        ({"data": f"keyId={owner.key_id}&secret={owner.secret}",
          "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, {}, 400),
        ({"json": {"keyId": owner.key_id, "secret": owner.secret}},
         {"Origin": "https://evil.example"}, 403),
    ]
    for request, headers, status in cases:
        extra = {**request.pop("headers", {}), **headers}
        body = await call(gateway, "POST", "/console/session", extra, status, **request)
        assert_error(body, status)
    assert await snapshot(gateway.db) == before


async def test_the_session_is_the_account_with_its_roles_and_walls(gateway: Gateway) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    other = await gateway.project(auth.DEVELOPER)
    theirs = await gateway.connector(other, "https://example.com/theirs")
    mine = await gateway.connector(owner, "https://example.com/mine", http={"signatureSecret": "s"})
    session = await sign_in(gateway, owner)
    listed = await call(gateway, "GET", f"/v2/projects/{owner.project_id}/dataconnectors",
                        session.headers(csrf=False), 200)
    assert [c["name"] for c in listed["dataConnectors"]] == [mine["name"]]
    assert listed["dataConnectors"][0]["httpConfig"]["signatureSecret"] == "s"
    # Another tenant's project and resources do not exist for this session.
    for path in (f"/v2/projects/{other.project_id}/dataconnectors", f"/v2/{theirs['name']}",
                 f"/v2/projects/{other.project_id}/dataconnectors:stats"):
        assert_error(await call(gateway, "GET", path, session.headers(), 404), 404)
    patched = await call(gateway, "PATCH", f"/v2/{mine['name']}", session.headers(), 200,
                         json={"displayName": "renamed"})
    assert patched["displayName"] == "renamed"


async def test_state_changes_need_the_sessions_csrf_token(gateway: Gateway) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    mine = await gateway.connector(owner, "https://example.com/mine")
    session = await sign_in(gateway, owner)
    before = await snapshot(gateway.db)
    wrong = {**session.headers(csrf=False), CSRF_HEADER: session.csrf[:-1] + "x"}
    for headers in (session.headers(csrf=False), wrong):
        for method, path, body in (
            ("PATCH", f"/v2/{mine['name']}", {"displayName": "x"}),
            ("DELETE", f"/v2/{mine['name']}", None),
            ("POST", f"/v2/{mine['name']}:sync", {}),
            ("POST", f"/v2/projects/{owner.project_id}/dataconnectors",
             {"httpConfig": {"url": "https://example.com/new"}}),
            ("DELETE", "/console/session", None),
        ):
            answer = await call(gateway, method, path, headers, 403, json=body)
            assert_error(answer, 403)
            assert CSRF_HEADER in answer["error"]
    assert await snapshot(gateway.db) == before


async def test_a_project_user_session_reads_masked_secrets_and_cannot_edit(
    gateway: Gateway,
) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    reader = await gateway.account(owner.project_id, auth.USER)
    mine = await gateway.connector(owner, "https://example.com/mine", http={"signatureSecret": "s"})
    session = await sign_in(gateway, reader)
    assert session.answer["projects"][0]["role"] == auth.USER
    found = await call(gateway, "GET", f"/v2/{mine['name']}", session.headers(), 200)
    assert found["httpConfig"]["signatureSecret"] == "********"
    before = await snapshot(gateway.db)
    answer = await call(gateway, "PATCH", f"/v2/{mine['name']}", session.headers(), 403,
                        json={"status": "USER_DISABLED"})
    assert_error(answer, 403)
    assert await snapshot(gateway.db) == before


async def test_sign_out_expiry_basic_auth_off_and_a_deleted_key_end_the_session(gateway: Gateway) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    path = f"/v2/projects/{owner.project_id}/dataconnectors"
    first = await sign_in(gateway, owner)
    assert await call(gateway, "DELETE", "/console/session", first.headers(), 200) == {}
    assert_error(await call(gateway, "GET", path, first.headers(), 401), 401)

    second = await sign_in(gateway, owner)
    gateway.clock.advance(gateway.settings.console_session_lifetime - 1)
    await call(gateway, "GET", "/console/session", second.headers(), 200)
    gateway.clock.advance(2)
    assert_error(await call(gateway, "GET", path, second.headers(), 401), 401)
    assert_error(await call(gateway, "GET", "/console/session", second.headers(), 401), 401)

    fourth = await sign_in(gateway, owner)
    await gateway.db.execute("UPDATE accounts SET basic_auth = false WHERE id = $1", owner.key_id)
    assert_error(await call(gateway, "GET", path, fourth.headers(), 401), 401)
    await gateway.db.execute("UPDATE accounts SET basic_auth = true WHERE id = $1", owner.key_id)

    third = await sign_in(gateway, owner)
    await gateway.db.execute("DELETE FROM account_keys WHERE id = $1", owner.key_id)
    assert_error(await call(gateway, "GET", path, third.headers(), 401), 401)
    assert await gateway.db.fetchval("SELECT count(*) FROM console_sessions") == 0


async def test_an_authorization_header_wins_over_a_cookie(gateway: Gateway) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    stale = {"Cookie": f"{COOKIE}=not-a-session", **owner.headers}
    await call(gateway, "GET", f"/v2/projects/{owner.project_id}/dataconnectors", stale, 200)
    # Without the header, the stale cookie is refused rather than ignored.
    stale.pop("Authorization")
    path = f"/v2/projects/{owner.project_id}/dataconnectors"
    assert_error(await call(gateway, "GET", path, stale, 401), 401)


async def test_pages_carry_a_strict_content_security_policy(gateway: Gateway) -> None:
    for path in ("/console/", "/console", "/console/main.js", "/console/console.css"):
        async with gateway.client.get(path) as response:
            assert response.status == 200, path
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert_error(await call(gateway, "GET", "/console/nothing.js", {}, 404), 404)
    assert_error(await call(gateway, "GET", "/console/..%2fapp.py", {}, 404), 404)


def test_no_page_holds_inline_script_or_style() -> None:
    page = static_files()["index.html"][0].decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert re.findall(r"<style|\sstyle=|\son[a-z]+=", page) == []
    for name, (body, _) in static_files().items():
        text = body.decode(errors="replace")
        # Markup from strings, or code from strings, would make any data a script.
        found = re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function", text)
        assert found == [], name
        assert re.findall(r"\.style\b|\"style\"", text) == [], name


async def test_stats_count_successes_and_errors_per_minute(
    gateway: Gateway, receiver: Receiver
) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    reader = await gateway.account(owner.project_id, auth.USER)
    device = await gateway.device(owner)
    ok = await gateway.connector(owner, receiver.url("/ok"))
    failing = await gateway.connector(owner, receiver.url("/down"))
    receiver.script("/down", Answer(status=500))
    for value in (1.0, 2.0):
        await gateway.publish(owner, device, {"temperature": {"value": value}})
    await gateway.deliver()
    gateway.clock.advance(60)
    await gateway.publish(owner, device, {"temperature": {"value": 3.0}})
    await gateway.deliver()
    path = f"/v2/projects/{owner.project_id}/dataconnectors:stats"
    answer = await call(gateway, "GET", path, reader.headers, 200)
    found = {entry["name"]: entry for entry in answer["dataConnectors"]}
    assert set(found) == {ok["name"], failing["name"]}
    healthy, broken = found[ok["name"]], found[failing["name"]]
    assert (healthy["successCount"], healthy["errorCount"]) == (3, 0)
    assert [(m["successes"], m["errors"]) for m in healthy["minutes"]] == [(2, 0), (1, 0)]
    assert healthy["failingSince"] == ""
    assert healthy["lastSuccessTime"] != ""
    assert healthy["latency99p"].endswith("s") and healthy["latency99p"] != "0s"
    # The failing connector probes one push at a time: the errors it made, and since when.
    assert broken["successCount"] == 0 and broken["errorCount"] >= 1
    assert broken["errorCount"] == sum(m["errors"] for m in broken["minutes"])
    assert broken["failingSince"].endswith("Z")
    assert broken["lastSuccessTime"] == ""
    metrics = await call(gateway, "GET", f"/v2/{ok['name']}:metrics", reader.headers, 200)
    assert metrics["metrics"]["successCount"] == healthy["successCount"]
    assert metrics["metrics"]["latency99p"] == healthy["latency99p"]
