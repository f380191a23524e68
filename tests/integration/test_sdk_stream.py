"""DT's event stream through the real SDK: `dt.Stream.event_stream` against a running gateway."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import disruptive as dt
import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.api import auth
from gateway.api.stream import HUB
from gateway.app import create_app
from gateway.config import Settings
from tests.harness import Account, Gateway
from tests.integration.sdk_support import SdkStream, account_auth, sdk, sdk_globals
from tests.integration.support import eventually

pytestmark = pytest.mark.usefixtures("sdk_globals")
__all__ = ["sdk_globals"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, stream_buffer=400_000)


@pytest_asyncio.fixture
async def reader(gateway: Gateway) -> AsyncIterator[Account]:
    """A project user whose credentials the SDK uses; the SDK tries each call once."""
    account = await gateway.project(auth.USER)
    dt.base_url = dt.emulator_base_url = str(gateway.client.make_url("/v2"))
    dt.default_auth = account_auth(gateway, account)
    dt.request_attempts = 1
    yield account


def streams(gateway: Gateway) -> int:
    return len(gateway.client.app[HUB])


async def open_stream(gateway: Gateway, project_id: str, **filters: object) -> SdkStream:
    before = streams(gateway)
    stream = SdkStream(project_id, **filters)
    await eventually(lambda: streams(gateway) > before or stream.done)
    assert stream.error is None, stream.error
    return stream


async def test_stream_yields_events_published_by_another_client(
    gateway: Gateway, reader: Account
) -> None:
    publisher = await gateway.account(reader.project_id, auth.DEVELOPER)
    device = await gateway.device(publisher, "temperature", name="fridge")
    stream = await open_stream(gateway, reader.project_id)
    published = [
        await gateway.publish(publisher, device, {"temperature": {"value": 4.5 + i}})
        for i in range(3)
    ]
    await eventually(lambda: len(stream.events) >= 3)
    stream.stop()
    assert [event._raw for event in stream.events] == published
    first = stream.events[0]
    assert (first.device_id, first.project_id, first.event_type) == (
        device, reader.project_id, "temperature"
    )
    assert first.data.celsius == 4.5


async def test_stream_filters(gateway: Gateway, reader: Account) -> None:
    publisher = await gateway.account(reader.project_id, auth.DEVELOPER)
    fridge = await gateway.device(publisher, "temperature", room="kitchen")
    door = await gateway.device(publisher, "contact", room="hall")
    by_label = await open_stream(gateway, reader.project_id, label_filters={"room": "kitchen"})
    by_type = await open_stream(gateway, reader.project_id, device_types=["contact"])
    by_event = await open_stream(gateway, reader.project_id, event_types=["touch"])
    by_id = await open_stream(gateway, reader.project_id, device_ids=[door])
    kitchen = await gateway.publish(publisher, fridge, {"temperature": {"value": 3.0}})
    touch = await gateway.publish(publisher, fridge, {"touch": {}})
    opened = await gateway.publish(publisher, door, {"contact": {"state": "OPEN"}})
    await eventually(lambda: len(by_label.events) == 2 and len(by_type.events) == 1
                     and len(by_event.events) == 1 and len(by_id.events) == 1)
    assert by_label.ids() == [kitchen["eventId"], touch["eventId"]]
    assert by_type.ids() == by_id.ids() == [opened["eventId"]]
    assert by_event.ids() == [touch["eventId"]]


async def test_stream_is_walled_per_project(gateway: Gateway, reader: Account) -> None:
    other = await gateway.project(auth.DEVELOPER)
    stream = await open_stream(gateway, reader.project_id)
    elsewhere = await gateway.device(other, "touch")
    await gateway.publish(other, elsewhere, {"touch": {}})
    publisher = await gateway.account(reader.project_id, auth.DEVELOPER)
    here = await gateway.device(publisher, "touch")
    mine = await gateway.publish(publisher, here, {"touch": {}})
    await eventually(lambda: len(stream.events) >= 1)
    assert stream.ids() == [mine["eventId"]]
    with pytest.raises(dt.errors.NotFound):
        await sdk(lambda: list(dt.Stream.event_stream(other.project_id)))


async def test_stream_errors_arrive_in_the_streams_format(
    gateway: Gateway, reader: Account
) -> None:
    path = f"/v2/projects/{reader.project_id}/devices:stream"
    cases = [
        ({"event_types": "nonsense"}, reader.headers, 400),
        ({"ping_interval": "soon"}, reader.headers, 400),
        ({"label_filters": "=x"}, reader.headers, 400),
        ({}, {"Authorization": "Basic bm9wZTpub3Bl"}, 401),
    ]
    for params, headers, status in cases:
        async with gateway.client.get(path, params=params, headers=headers) as response:
            assert response.status == status
            line = await response.read()
        assert line.endswith(b"\n")
        error = orjson.loads(line)["error"]
        assert error["code"] == status and error["message"]
    with pytest.raises(dt.errors.BadRequest):
        await sdk(lambda: list(dt.Stream.event_stream(reader.project_id, event_types=["x"])))
    dt.default_auth = account_auth(
        gateway, replace(reader, secret="wrong")  # type: ignore[type-var]
    )
    with pytest.raises(dt.errors.Unauthorized):
        await sdk(lambda: list(dt.Stream.event_stream(reader.project_id)))


async def test_pings_at_the_requested_interval(gateway: Gateway, reader: Account) -> None:
    path = f"/v2/projects/{reader.project_id}/devices:stream"
    params = {"ping_interval": "0.1s"}
    async with gateway.client.get(path, params=params, headers=reader.headers) as response:
        assert response.status == 200
        lines = [orjson.loads(await response.content.readline()) for _ in range(2)]
    for line in lines:
        event = line["result"]["event"]
        assert event["eventType"] == "ping" and event["data"] is None
        assert event["targetName"] == f"projects/{reader.project_id}"


async def test_a_slow_reader_is_cut_off(gateway: Gateway, reader: Account) -> None:
    """A client that never reads: its stream is dropped once its buffer is full, and the other
    streams carry on."""
    publisher = await gateway.account(reader.project_id, auth.DEVELOPER)
    device = await gateway.device(publisher, "temperature")
    healthy = await open_stream(gateway, reader.project_id)
    port = gateway.client.server.port
    with socket.socket() as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        auth_header = reader.headers["Authorization"]
        stalled.sendall(
            f"GET /v2/projects/{reader.project_id}/devices:stream HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: {auth_header}\r\n\r\n".encode()
        )
        await eventually(lambda: streams(gateway) == 2)
        # 1,000 events (about 230 kB) per batch: a burst the healthy reader's buffer holds.
        batch = {"events": [{"device": device, "data": {"temperature": {"value": 1.0}}}] * 1000}
        path = f"/v2/projects/{reader.project_id}/devices:publishBatch"
        sent = 0
        while streams(gateway) == 2 and sent < 50:
            await gateway.call("POST", path, publisher, json=batch)
            sent += 1
            await eventually(lambda n=1000 * sent: len(healthy.events) >= n)
        assert streams(gateway) == 1
    assert healthy.error is None


async def test_a_deleted_keys_stream_ends_at_the_next_ping(
    gateway: Gateway, reader: Account
) -> None:
    owner = await gateway.account(reader.project_id, auth.ADMIN)
    keys = f"/v2/projects/{reader.project_id}/serviceaccounts/{reader.key_id}/keys"
    path = f"/v2/projects/{reader.project_id}/devices:stream"
    params = {"ping_interval": "0.2s"}
    async with gateway.client.get(path, params=params, headers=reader.headers) as response:
        assert response.status == 200
        first = orjson.loads(await response.content.readline())
        assert first["result"]["event"]["eventType"] == "ping"
        await gateway.call("DELETE", f"{keys}/{reader.key_id}", owner)
        last = orjson.loads(await response.content.readline())
        assert last["error"]["code"] == 401
        assert await response.content.read() == b""


async def test_streams_on_another_replica_receive_events(
    gateway: Gateway, reader: Account, settings: Settings
) -> None:
    """Two gateway processes' worth of apps on one database: publish to one, stream from the
    other."""
    replica = TestClient(TestServer(create_app(settings, clock=gateway.clock)))
    await replica.start_server()
    try:
        hub = replica.app[HUB]
        await eventually(lambda: hub.listening.is_set())
        publisher = await gateway.account(reader.project_id, auth.DEVELOPER)
        device = await gateway.device(publisher, "touch")
        path = f"/v2/projects/{reader.project_id}/devices:stream"
        async with replica.get(path, headers=reader.headers) as response:
            assert response.status == 200
            published = await gateway.publish(publisher, device, {"touch": {}})
            line = orjson.loads(await response.content.readline())
        assert line["result"]["event"] == published
    finally:
        await replica.close()
