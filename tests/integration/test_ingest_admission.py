"""Publish work in progress is bounded: past the bound and its queue, a publish is a 503 with
Retry-After at once, while health checks and other routes keep answering; the publishes
admitted complete. Within the queue, a publish waits for a place and completes."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from gateway.api.admission import INGEST_GATE
from gateway.config import Settings
from tests.harness import Account, Gateway, configured
from tests.integration.helpers import assert_error

LIMIT = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, ingest_concurrency=LIMIT, ingest_queue=0)


async def half_sent_publish(
    gateway: Gateway, account: Account, device: str, body: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A publish whose headers and first half of the body are sent; the rest is held back."""
    server = gateway.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    path = f"/v2/projects/{account.project_id}/devices/{device}:publish"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"Authorization: {account.headers['Authorization']}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body[: len(body) // 2])
    await writer.drain()
    return reader, writer


async def until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_publish_over_the_bound_is_503_and_health_answers(gateway: Gateway) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    body = orjson.dumps({"temperature": {"value": 21.5}})
    gate = gateway.client.app[INGEST_GATE]
    assert gate.queue == 0  # as configured: no publish waits
    held = [await half_sent_publish(gateway, account, device, body) for _ in range(LIMIT)]
    await until(lambda: gate.active == LIMIT)

    path = f"/v2/projects/{account.project_id}/devices/{device}:publish"
    async with gateway.client.post(path, headers=account.headers, data=body) as refused:
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "1"
        assert_error(await refused.json(), 503)
    for probe in ("/healthz", "/readyz"):
        async with gateway.client.get(probe) as answer:
            assert answer.status == 200, probe
    await gateway.call("GET", f"/v2/projects/{account.project_id}/dataconnectors", account)

    for reader, writer in held:
        writer.write(body[len(body) // 2 :])
        await writer.drain()
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    await until(lambda: gate.active == 0)
    await gateway.publish(account, device, {"temperature": {"value": 22.0}})
    span = {"startTime": "2000-01-01T00:00:00Z", "endTime": "2100-01-01T00:00:00Z"}
    history = await gateway.call(
        "GET", f"/v2/projects/{account.project_id}/devices/{device}/events", account, params=span
    )
    assert len(history["events"]) == LIMIT + 1


async def test_a_publish_past_the_bound_waits_for_a_place_and_one_past_the_queue_is_503(
    gateway: Gateway,
) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    body = orjson.dumps({"temperature": {"value": 21.5}})
    gate = gateway.client.app[INGEST_GATE]
    gate.queue = 1
    held = [await half_sent_publish(gateway, account, device, body) for _ in range(LIMIT)]
    await until(lambda: gate.active == LIMIT)

    path = f"/v2/projects/{account.project_id}/devices/{device}:publish"
    queued = asyncio.create_task(gateway.publish(account, device, {"temperature": {"value": 23.0}}))
    await until(lambda: gate.waiting == 1)
    async with gateway.client.post(path, headers=account.headers, data=body) as refused:
        assert refused.status == 503  # the queue is full: at once, not after a wait
        assert refused.headers["Retry-After"] == "1"

    reader, writer = held[0]
    writer.write(body[len(body) // 2 :])
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 200")
    writer.close()
    await asyncio.wait_for(queued, 5)  # took the place the first one left
    assert gate.waiting == 0
    for reader, writer in held[1:]:
        writer.write(body[len(body) // 2 :])
        await writer.drain()
        assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
    await until(lambda: gate.active == 0)
