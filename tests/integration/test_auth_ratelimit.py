"""Failed sign-ins per key: Basic auth and OAuth assertions are cut off with 429 and Retry-After."""

from __future__ import annotations

import base64

import pytest

from gateway.config import Settings
from tests.harness import Account, Gateway, configured
from tests.integration.helpers import assert_error
from tests.integration.test_auth import GRANT, assertion, token_url

LIMIT = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, auth_failure_limit=LIMIT)


def basic(key_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


async def list_status(gateway: Gateway, account: Account, headers: dict[str, str]) -> int:
    path = f"/v2/projects/{account.project_id}/dataconnectors"
    async with gateway.client.get(path, headers=headers) as response:
        body = await response.json()
        if response.status == 429:
            assert_error(body, 429)
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        return response.status


async def test_basic_auth_failures_lock_the_key_for_a_minute(gateway: Gateway) -> None:
    account = await gateway.project()
    bystander = await gateway.account(account.project_id, "roles/project.user")
    wrong = basic(account.key_id, "wrong-secret")
    assert [await list_status(gateway, account, wrong) for _ in range(LIMIT)] == [401] * LIMIT
    assert await list_status(gateway, account, wrong) == 429
    assert await list_status(gateway, account, account.headers) == 429  # even the right secret
    assert await list_status(gateway, bystander, bystander.headers) == 200
    gateway.clock.advance(60)
    assert await list_status(gateway, account, account.headers) == 200


async def exchange_status(gateway: Gateway, jwt_text: str) -> tuple[int, str | None]:
    form = {"assertion": jwt_text, "grant_type": GRANT}
    async with gateway.client.post("/oauth2/token", data=form) as response:
        await response.json()
        return response.status, response.headers.get("Retry-After")


async def test_failed_assertions_lock_the_key_for_a_minute(gateway: Gateway) -> None:
    account = await gateway.project()
    now = int(gateway.clock().timestamp())
    audience = token_url(gateway)
    bad = assertion(account, audience, secret="not-the-secret", now=now)
    good = assertion(account, audience, now=now)
    for _ in range(LIMIT):
        assert (await exchange_status(gateway, bad))[0] == 401
    status, retry_after = await exchange_status(gateway, bad)
    assert status == 429 and retry_after is not None and 1 <= int(retry_after) <= 60
    assert (await exchange_status(gateway, good))[0] == 429
    # Basic auth and assertions guard the same secret: one count for both.
    assert await list_status(gateway, account, account.headers) == 429
    gateway.clock.advance(61)
    assert (await exchange_status(gateway, assertion(account, audience, now=now + 61)))[0] == 200
