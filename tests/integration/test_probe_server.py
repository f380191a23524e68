"""The probes' own port: answered by a thread while the event loop is busy, and honest when the
loop is stuck."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.api.probe_server import ProbeServer
from gateway.app import PROBE_SERVER, create_app
from gateway.config import Settings
from tests.harness import Gateway, configured


def probe(port: int, path: str) -> tuple[int, dict[str, Any], float]:
    """GET `path` on a new connection, as an orchestrator does: status, body, seconds taken."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read()), time.perf_counter() - started
    finally:
        connection.close()


def probe_in_a_thread(port: int, path: str) -> tuple[threading.Thread, list[Any]]:
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(probe(port, path)))
    thread.start()
    return thread, found


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, probe_port=0)


async def test_the_gateways_probe_port_gives_the_main_ports_checks(gateway: Gateway) -> None:
    port = gateway.client.app[PROBE_SERVER].port
    async with gateway.client.get("/readyz") as answer:
        main = await answer.json()
    status, body, _ = await asyncio.to_thread(probe, port, "/readyz")
    assert status == 200
    assert body == {
        "status": "ready", "checks": {**main["checks"], "eventLoop": True, "accepting": True}
    }
    assert (await asyncio.to_thread(probe, port, "/healthz"))[:2] == (200, {"status": "ok"})
    status, body, _ = await asyncio.to_thread(probe, port, "/metrics")
    assert status == 404 and body["code"] == 404


async def test_probes_are_answered_while_the_event_loop_is_blocked() -> None:
    server = ProbeServer("127.0.0.1", 0, lambda: {"database": True})
    server.start()
    try:
        thread, found = probe_in_a_thread(server.port, "/healthz")
        time.sleep(1.0)  # the event loop does nothing else for a second
        await asyncio.to_thread(thread.join)
    finally:
        server.stop()
    status, body, seconds = found[0]
    assert (status, body) == (200, {"status": "ok"})
    assert seconds < 0.5, "the probe waited for the event loop"


async def test_a_loop_that_stops_refreshing_is_reported_stalled_until_it_turns_again() -> None:
    server = ProbeServer("127.0.0.1", 0, lambda: {"database": True}, stalled_after=0.2)
    server.start()
    try:
        time.sleep(0.3)  # the loop is stuck: nothing refreshes the snapshot
        health = probe(server.port, "/healthz")
        readiness = probe(server.port, "/readyz")
        heartbeat = asyncio.create_task(server.run())
        await asyncio.sleep(0.05)
        after = await asyncio.to_thread(probe, server.port, "/readyz")
        heartbeat.cancel()
    finally:
        server.stop()
    assert health[0] == 503 and health[1]["status"] == "stalled"
    assert health[1]["stalledSeconds"] >= 0.2
    checks = {"database": True, "eventLoop": False, "accepting": True}
    assert readiness[:2] == (503, {"status": "not ready", "checks": checks})
    assert after[:2] == (200, {"status": "ready", "checks": {**checks, "eventLoop": True}})


async def test_a_failing_check_makes_the_probe_port_not_ready() -> None:
    checks = {"database": True, "migrations": True}
    server = ProbeServer("127.0.0.1", 0, lambda: dict(checks))
    server.start()
    try:
        checks["database"] = False
        server.refresh()
        status, body, _ = await asyncio.to_thread(probe, server.port, "/readyz")
    finally:
        server.stop()
    assert status == 503
    assert body["checks"] == {
        "database": False, "migrations": True, "eventLoop": True, "accepting": True
    }


async def test_a_gateway_shutting_down_is_not_ready_on_the_probe_port(settings: Settings) -> None:
    app = create_app(settings)
    async with TestClient(TestServer(app)):
        server = app[PROBE_SERVER]
        assert (await asyncio.to_thread(probe, server.port, "/readyz"))[0] == 200
        await app.shutdown()  # what a SIGTERM starts: requests in progress may still finish
        status, body, _ = await asyncio.to_thread(probe, server.port, "/readyz")
        assert status == 503 and body["checks"]["accepting"] is False
        assert (await asyncio.to_thread(probe, server.port, "/healthz"))[0] == 200
    with pytest.raises(ConnectionRefusedError):
        probe(server.port, "/healthz")
