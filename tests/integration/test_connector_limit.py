"""A project may hold at most GATEWAY_MAX_CONNECTORS connectors, even under concurrent creates."""

from __future__ import annotations

import asyncio

import pytest

from gateway.config import Settings
from tests.harness import Gateway, configured
from tests.integration.helpers import assert_error

LIMIT = 3
HOOK = "https://example.com/hook"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, max_connectors=LIMIT)


async def test_concurrent_creates_stop_at_the_limit(gateway: Gateway) -> None:
    account = await gateway.project()
    other = await gateway.project()
    path = f"/v2/projects/{account.project_id}/dataconnectors"

    async def create() -> tuple[int, dict[str, object]]:
        body = {"httpConfig": {"url": HOOK}}
        async with gateway.client.post(path, headers=account.headers, json=body) as response:
            return response.status, await response.json()

    answers = await asyncio.gather(*(create() for _ in range(12)))
    assert sorted(status for status, _ in answers) == [200] * LIMIT + [400] * (12 - LIMIT)
    for status, body in answers:
        if status == 400:
            assert_error(body, 400)
            assert f"at most {LIMIT} data connectors" in str(body["error"])
    listed = await gateway.call("GET", path, account)
    assert len(listed["dataConnectors"]) == LIMIT

    await gateway.connector(other, HOOK)  # the limit is per project
    first = listed["dataConnectors"][0]["name"]
    await gateway.call("DELETE", f"/v2/{first}", account)
    await gateway.connector(account, HOOK)
    await gateway.call("POST", path, account, expect=400, json={"httpConfig": {"url": HOOK}})
