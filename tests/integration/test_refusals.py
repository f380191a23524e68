"""Input that used to get through or answer 500: control characters in connector headers,
history page tokens whose time PostgreSQL cannot hold."""

from __future__ import annotations

import pytest

from gateway.api.common import encode_page_token
from tests.harness import Gateway
from tests.integration.helpers import assert_error, snapshot

HOOK = "https://example.com/hook"
# Every C0 control but HTAB, and DEL: an HTTP field value may hold none of them (RFC 9110 §5.5).
CONTROLS = [chr(code) for code in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]


@pytest.mark.parametrize("char", CONTROLS, ids=lambda char: f"{ord(char):#04x}")
async def test_header_values_with_control_characters_are_refused(
    gateway: Gateway, char: str
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, HOOK, http={"headers": {"X-Ok": "a\tb"}})
    before = await snapshot(gateway.db)
    path = f"/v2/projects/{account.project_id}/dataconnectors"
    bad = {"httpConfig": {"url": HOOK, "headers": {"X-Key": f"a{char}b"}}}
    assert_error(await gateway.call("POST", path, account, expect=400, json=bad), 400)
    one = f"/v2/{created['name']}"
    assert_error(await gateway.call("PATCH", one, account, expect=400, json=bad), 400)
    assert await snapshot(gateway.db) == before
    assert created["httpConfig"]["headers"] == {"X-Ok": "a\tb"}  # HTAB stays allowed


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2020-01-01T00:00:00"]
)
async def test_history_page_token_out_of_range_is_400(gateway: Gateway, moment: str) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    path = f"/v2/projects/{account.project_id}/devices/{device}/events"
    params = {"pageToken": encode_page_token(f"{moment}|x")}
    body = await gateway.call("GET", path, account, expect=400, params=params)
    assert_error(body, 400)
