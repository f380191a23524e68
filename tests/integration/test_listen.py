"""`listen` against a real gateway over HTTP: a temporary connector, pushes shown as they arrive,
the connector deleted on the way out, and a one-line refusal when local targets are not allowed."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.listen import ListenError, Options, listen
from gateway.metrics import Metrics
from tests.e2e.processes import wait_for
from tests.harness import Account, Gateway, configured


def _options(gateway: Gateway, account: Account, events: list[str]) -> Options:
    return Options(
        api_url=str(gateway.client.make_url("/v2")), key_id=account.key_id,
        secret=account.secret, project=account.project_id, events=events, labels=["name"],
        port=0,
    )  # fmt: skip


async def _until(condition: object, what: str) -> None:
    await asyncio.to_thread(wait_for, condition, 10, what)  # type: ignore[arg-type]


async def test_listen_shows_each_verified_push_and_deletes_its_connector(gateway: Gateway) -> None:
    account = await gateway.project()
    lines: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        listen(_options(gateway, account, ["temperature"]), stop, lines.append)
    )
    ready = lambda: task.done() or any(line.startswith("Ready") for line in lines)  # noqa: E731
    await _until(ready, "listen to be ready")
    assert not task.done(), task.exception()
    [connector] = await _connectors(gateway, account)
    assert connector["events"] == ["temperature"]
    assert connector["httpConfig"]["url"].startswith("http://127.0.0.1:")
    device = await gateway.device(account, name="fridge")
    await gateway.publish(account, device, {"temperature": {"value": 4.5}})
    await gateway.publish(account, device, {"touch": {}})  # filtered out by the connector

    assert await gateway.deliver() == 1

    [push] = [line for line in lines if "temperature" in line and device in line]
    assert "[name=fridge]" in push
    assert "verified HS256" in push
    assert push.endswith(" ms")
    stop.set()
    await task
    assert await _connectors(gateway, account) == []
    assert lines[-1] == f"deleted the temporary connector {connector['name'].split('/')[-1]}"


async def test_listen_says_in_one_line_how_to_allow_local_targets(
    settings: Settings, gateway: Gateway
) -> None:
    account = await gateway.project()
    strict = create_app(configured(settings, allow_insecure_targets=False), clock=ManualClock(),
                        metrics=Metrics())  # fmt: skip
    async with TestClient(TestServer(strict)) as client:
        options = replace(_options(gateway, account, []), api_url=str(client.make_url("/v2")))
        with pytest.raises(ListenError) as refusal:
            await listen(options, asyncio.Event(), print)
    assert "GATEWAY_ALLOW_INSECURE_TARGETS=true" in str(refusal.value)
    assert "\n" not in str(refusal.value)
    assert await _connectors(gateway, account) == []


async def test_listen_names_a_refused_account(gateway: Gateway) -> None:
    account = await gateway.project()
    options = replace(_options(gateway, account, []), secret="wrong")
    with pytest.raises(ListenError, match="check the key id and secret"):
        await listen(options, asyncio.Event(), print)


async def _connectors(gateway: Gateway, account: Account) -> list[dict[str, object]]:
    path = f"/v2/projects/{account.project_id}/dataconnectors"
    return (await gateway.call("GET", path, account))["dataConnectors"]  # type: ignore[no-any-return]
