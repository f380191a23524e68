"""Slow clients over real sockets: request heads and bodies that drip in are cut off after
GATEWAY_CLIENT_TIMEOUT, while normal requests keep being answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app, server_options
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.metrics import Metrics
from tests.harness import Gateway, configured

TIMEOUT = 1.0
SLOW_SOCKETS = 200
DRIP = 0.1  # seconds between two bytes of a slow client


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, client_timeout=TIMEOUT)


@pytest_asyncio.fixture
async def served(settings: Settings, clock: ManualClock) -> AsyncIterator[Gateway]:
    """The gateway behind aiohttp's server with the options `serve` gives it."""
    app = create_app(settings, clock=clock)
    server = TestServer(app)
    await server.start_server(**server_options(settings))
    client = TestClient(server)
    try:
        yield Gateway(client, settings, clock, Metrics())
    finally:
        await client.close()


async def drip(gateway: Gateway, text: bytes) -> float:
    """Send `text` a byte at a time; the seconds until the server closed the connection."""
    server = gateway.client.server
    # Before connecting: the server's clock starts at accept, which may come before this task
    # resumes with the connection.
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        for byte in text:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(1), DRIP)
                break  # the server answered or closed
            except TimeoutError:
                continue
        else:
            raise AssertionError("the server waited for the whole slow request")
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started


async def test_slow_heads_are_cut_off_and_others_are_served(served: Gateway) -> None:
    account = await served.project()
    device = await served.device(account)
    head = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n" + b"X-Slow: " + b"a" * 400
    slow = [asyncio.create_task(drip(served, head)) for _ in range(SLOW_SOCKETS)]
    served_meanwhile = 0
    while not all(task.done() for task in slow):
        async with served.client.get("/healthz") as answer:
            assert answer.status == 200
        await served.publish(account, device, {"temperature": {"value": 20.0}})
        served_meanwhile += 1
    held = await asyncio.gather(*slow)
    assert served_meanwhile > 0
    assert min(held) >= TIMEOUT * 0.9 and max(held) < TIMEOUT + 1.5, (min(held), max(held))


async def test_a_dripping_body_is_408(served: Gateway) -> None:
    account = await served.project()
    device = await served.device(account)
    body = orjson.dumps({"temperature": {"value": 20.0}}) + b" " * 400
    path = f"/v2/projects/{account.project_id}/devices/{device}:publish"
    server = served.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"Authorization: {account.headers['Authorization']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    started = time.monotonic()
    answer = b""
    for byte in body:
        writer.write(bytes([byte]))
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(4096), DRIP)
            break
        except TimeoutError:
            continue
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":408' in answer
    assert time.monotonic() - started < TIMEOUT + 1.0
    span = {"startTime": "2000-01-01T00:00:00Z", "endTime": "2100-01-01T00:00:00Z"}
    events = f"/v2/projects/{account.project_id}/devices/{device}/events"
    assert (await served.call("GET", events, account, params=span))["events"] == []
