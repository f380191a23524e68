"""Bad input on every write route is a 400 in DT's error format, changes nothing, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, cast
from unittest import mock

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gateway.api.common import SERVICES, Services, read_json
from gateway.clock import system_clock
from gateway.config import Settings
from tests.harness import Account, Gateway
from tests.integration.helpers import assert_error, snapshot

MAX_BODY = 4096
HOOK = "https://example.com/hook"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, allow_insecure_targets=False, max_body=MAX_BODY)


@dataclass
class World:
    """A project with one connector and one device, and the paths of its write routes."""

    account: Account
    connector: str
    device: str

    @property
    def project(self) -> str:
        return self.account.project_id

    def path(self, route: str) -> str:
        base = f"/v2/projects/{self.project}"
        return {
            "create": f"{base}/dataconnectors",
            "patch": f"{base}/dataconnectors/{self.connector}",
            "device": f"{base}/devices",
            "batch": f"{base}/devices:batchUpdate",
            "publish": f"{base}/devices/{self.device}:publish",
            "publishBatch": f"{base}/devices:publishBatch",
        }[route]

    def method(self, route: str) -> str:
        return "PATCH" if route == "patch" else "POST"

    def device_name(self) -> str:
        return f"projects/{self.project}/devices/{self.device}"


async def world(gateway: Gateway) -> World:
    account = await gateway.project()
    created = await gateway.connector(account, HOOK, http={"headers": {"x-key": "1"}})
    device = await gateway.device(account, "touch", name="door")
    return World(account, created["name"].split("/")[-1], device)


JSON_ROUTES = ["create", "patch", "device", "batch", "publish", "publishBatch"]


async def refused(gateway: Gateway, w: World, route: str, expect: int = 400, **kw: Any) -> None:
    body = await gateway.call(w.method(route), w.path(route), w.account, expect=expect, **kw)
    assert_error(body, expect)


async def test_malformed_and_non_object_json(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    raw_bodies = [b"{", b"{\"a\": }", b"nul", b"\xff\xfe", b"[1,", b"{'a': 1}", b"NaN"]
    json_bodies: list[Any] = [[], [{}], "text", 1, 1.5, None, True]
    for route in JSON_ROUTES:
        for raw in raw_bodies:
            await refused(gateway, w, route, data=raw)
        for value in json_bodies:
            await refused(gateway, w, route, json=value)
        if route != "patch":  # an empty PATCH changes nothing and is fine
            await refused(gateway, w, route, data=b"")
            await refused(gateway, w, route, json={})
    assert await snapshot(gateway.db) == before


CONNECTOR_BODIES: list[dict[str, Any]] = [
    {},
    {"httpConfig": {}},
    {"httpConfig": None},
    {"httpConfig": "https://example.com"},
    {"httpConfig": {"url": None}},
    {"httpConfig": {"url": 5}},
    {"httpConfig": {"url": ""}},
    {"httpConfig": {"url": "example.com/hook"}},
    {"httpConfig": {"url": "http://example.com/hook"}},
    {"httpConfig": {"url": "ftp://example.com/hook"}},
    {"httpConfig": {"url": "https://"}},
    {"httpConfig": {"url": "https://example.com:99999/"}},
    {"httpConfig": {"url": "https://user:pw@example.com/"}},
    {"httpConfig": {"url": "https://exa\u0000mple.com/"}},
    {"httpConfig": {"url": "https://example.com/" + "a" * 3000}},
    {"httpConfig": {"url": HOOK, "nope": 1}},
    {"httpConfig": {"url": HOOK, "signatureSecret": 5}},
    {"httpConfig": {"url": HOOK, "signatureSecret": None}},
    {"httpConfig": {"url": HOOK, "signatureSecret": "a\u0000b"}},
    {"httpConfig": {"url": HOOK, "headers": []}},
    {"httpConfig": {"url": HOOK, "headers": "x: y"}},
    {"httpConfig": {"url": HOOK, "headers": {"x": 1}}},
    {"httpConfig": {"url": HOOK, "headers": {"x": None}}},
    {"httpConfig": {"url": HOOK, "headers": {"bad name": "v"}}},
    {"httpConfig": {"url": HOOK, "headers": {"": "v"}}},
    {"httpConfig": {"url": HOOK, "headers": {"x": "a\r\nInjected: 1"}}},
    {"httpConfig": {"url": HOOK, "headers": {"x": "a\u0000"}}},
    {"httpConfig": {"url": HOOK, "headers": {"Content-Type": "text/plain"}}},
    {"httpConfig": {"url": HOOK, "headers": {"X-Dt-Signature": "forged"}}},
    {"httpConfig": {"url": HOOK, "headers": {"host": "elsewhere"}}},
    {"httpConfig": {"url": HOOK}, "displayName": 5},
    {"httpConfig": {"url": HOOK}, "displayName": None},
    {"httpConfig": {"url": HOOK}, "displayName": "nul\u0000"},
    {"httpConfig": {"url": HOOK}, "status": "SYSTEM_DISABLED"},
    {"httpConfig": {"url": HOOK}, "status": "active"},
    {"httpConfig": {"url": HOOK}, "status": 1},
    {"httpConfig": {"url": HOOK}, "events": "touch"},
    {"httpConfig": {"url": HOOK}, "events": ["nope"]},
    {"httpConfig": {"url": HOOK}, "events": ["touch", 5]},
    {"httpConfig": {"url": HOOK}, "events": [None]},
    {"httpConfig": {"url": HOOK}, "events": ["ping"]},
    {"httpConfig": {"url": HOOK}, "labels": "name"},
    {"httpConfig": {"url": HOOK}, "labels": [1]},
    {"httpConfig": {"url": HOOK}, "labels": [""]},
    {"httpConfig": {"url": HOOK}, "labels": ["nul\u0000"]},
    {"httpConfig": {"url": HOOK}, "type": "AWS_SQS"},
    {"httpConfig": {"url": HOOK}, "type": 5},
    {"httpConfig": {"url": HOOK}, "unknown": True},
]

PRIVATE_URLS = [
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://printer.local/hook",
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0.0.0.0/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
]


async def test_connector_create_refuses_bad_bodies(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    for body in CONNECTOR_BODIES:
        await refused(gateway, w, "create", json=body)
    for url in PRIVATE_URLS:
        await refused(gateway, w, "create", json={"httpConfig": {"url": url}})
    assert await snapshot(gateway.db) == before


async def test_connector_patch_refuses_bad_bodies(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    for body in CONNECTOR_BODIES:
        if body in ({}, {"httpConfig": {}}):
            continue  # nothing to change is a valid PATCH
        await refused(gateway, w, "patch", json=body)
    for url in PRIVATE_URLS:
        await refused(gateway, w, "patch", json={"httpConfig": {"url": url}})
    assert await snapshot(gateway.db) == before


BAD_MASKS: list[tuple[str, dict[str, Any]]] = [
    ("nope", {"displayName": "x"}),
    ("displayName,nope", {"displayName": "x"}),
    ("httpConfig.nope", {"httpConfig": {"url": HOOK}}),
    ("httpConfig.url", {}),
    ("httpConfig.url", {"httpConfig": {"url": "http://example.com"}}),
    ("status", {"status": "SYSTEM_DISABLED"}),
    ("events", {"events": ["nope"]}),
]


async def test_bad_update_mask_is_400(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    for mask, body in BAD_MASKS:
        for name in ("update_mask", "updateMask"):
            await refused(gateway, w, "patch", json=body, params={name: mask})
    assert await snapshot(gateway.db) == before


async def test_device_create_and_batch_update_refuse_bad_bodies(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    name = w.device_name()
    devices: list[dict[str, Any]] = [
        {"labels": {}},
        {"type": "toaster"},
        {"type": 5},
        {"type": None},
        {"type": []},
        {"type": {"touch": 1}},
        {"type": "touch", "labels": []},
        {"type": "touch", "labels": {"a": 1}},
        {"type": "touch", "labels": {"": "x"}},
        {"type": "touch", "labels": {"a": "x\u0000"}},
        {"type": "touch", "labels": {"a\u0000": "x"}},
        {"type": "touch", "labels": {str(i): "x" for i in range(101)}},
        {"type": "touch", "productNumber": 5},
        {"type": "touch", "productNumber": "nul\u0000"},
        {"type": "touch", "unknown": 1},
    ]
    for body in devices:
        await refused(gateway, w, "device", json=body)
    batches: list[dict[str, Any]] = [
        {"addLabels": {"a": "b"}},
        {"devices": [], "addLabels": {"a": "b"}},
        {"devices": name, "addLabels": {"a": "b"}},
        {"devices": [5], "addLabels": {"a": "b"}},
        {"devices": [w.device], "addLabels": {"a": "b"}},
        {"devices": ["projects/x/devices/"], "addLabels": {"a": "b"}},
        {"devices": [f"projects/{w.project}/devices/nul\u0000"], "addLabels": {"a": "b"}},
        {"devices": [name] * 1001, "addLabels": {"a": "b"}},
        {"devices": [name], "addLabels": []},
        {"devices": [name], "addLabels": {"a": 1}},
        {"devices": [name], "addLabels": {"a": "\u0000"}},
        {"devices": [name], "removeLabels": "name"},
        {"devices": [name], "removeLabels": [1]},
        {"devices": [name], "unknown": 1},
    ]
    for body in batches:
        await refused(gateway, w, "batch", json=body)
    assert await snapshot(gateway.db) == before


async def test_publish_refuses_bad_bodies(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    publishes: list[Any] = [
        {"nope": {}},
        {"touch": {}, "temperature": {"value": 1}},
        {"touch": []},
        {"touch": {"updateTime": "yesterday"}},
        {"temperature": {"value": "warm"}},
        {"temperature": {}},
        {"labelsChanged": {"added": 1}},
    ]
    for body in publishes:
        await refused(gateway, w, "publish", json=body)
    for event_id in ("", "bad id", "x" * 65, "nul\u0000"):
        await refused(gateway, w, "publish", json={"touch": {}}, params={"eventId": event_id})
    items: list[Any] = [
        None,
        [],
        {},
        "x",
        [{"device": w.device}],
        [{"data": {"touch": {}}}],
        [{"device": 5, "data": {"touch": {}}}],
        [{"device": "a/b", "data": {"touch": {}}}],
        [{"device": "nul\u0000", "data": {"touch": {}}}],
        [{"device": w.device, "data": {"nope": {}}}],
        [{"device": w.device, "data": {"touch": {}}, "extra": 1}],
        [{"device": w.device, "data": {"touch": {}}, "eventId": 5}],
        [{"device": w.device, "data": {"touch": {}}}, 5],
    ]
    for events in items:
        await refused(gateway, w, "publishBatch", json={"events": events})
    await refused(gateway, w, "publishBatch", json={"events": [], "extra": 1})
    assert await snapshot(gateway.db) == before


async def test_publish_to_unknown_device_is_404(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    for device in ("emu00000000000000000000", "nul%00", "%E2%82%AC"):
        path = f"/v2/projects/{w.project}/devices/{device}:publish"
        assert_error(await gateway.call("POST", path, w.account, 404, json={"touch": {}}), 404)
        path = f"/v2/projects/{w.project}/devices/{device}"
        assert_error(await gateway.call("GET", path, w.account, 404), 404)
    batch = {"events": [{"device": w.device, "data": {"touch": {}}},
                        {"device": "emu00000000000000000000", "data": {"touch": {}}}]}
    await refused(gateway, w, "publishBatch", 404, json=batch)
    assert await snapshot(gateway.db) == before


async def test_unknown_ids_in_paths_are_404(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    base = f"/v2/projects/{w.project}/dataconnectors"
    for connector in ("c00000000000000000000", "nul%00", "%E2%82%AC", "a" * 300):
        for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", ":sync"),
                               ("GET", ":metrics")):
            kw = {"json": {"displayName": "x"}} if method == "PATCH" else {}
            body = await gateway.call(method, f"{base}/{connector}{suffix}", w.account, 404, **kw)
            assert_error(body, 404)
    assert await snapshot(gateway.db) == before


async def test_oversized_bodies_are_400(gateway: Gateway) -> None:
    w = await world(gateway)
    before = await snapshot(gateway.db)
    big_connector = {"httpConfig": {"url": HOOK}, "displayName": "x" * MAX_BODY}
    big_events = {"events": [{"device": w.device, "data": {"touch": {}}}] * 200}
    bodies = {
        "create": big_connector,
        "patch": big_connector,
        "device": {"type": "touch", "labels": {"a": "x" * MAX_BODY}},
        "batch": {"devices": [w.device_name()], "addLabels": {"a": "x" * MAX_BODY}},
        "publish": {"touch": {"updateTime": "x" * MAX_BODY}},
        "publishBatch": big_events,
    }
    for route, body in bodies.items():
        await refused(gateway, w, route, json=body)
        await refused(gateway, w, route, data=chunks(orjson.dumps(body)))
    form = {"grant_type": "x", "assertion": "x" * MAX_BODY}
    assert_error(await gateway.call("POST", "/oauth2/token", None, 400, data=form), 400)
    assert await snapshot(gateway.db) == before


async def chunks(raw: bytes, size: int = 512) -> AsyncIterator[bytes]:
    """The body in pieces, sent with chunked transfer encoding and no Content-Length."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


async def test_a_body_sent_in_chunks_is_read_whole(gateway: Gateway) -> None:
    w = await world(gateway)
    headers = {f"x-header-{i}": "v" * 60 for i in range(45)}
    raw = orjson.dumps({"httpConfig": {"url": HOOK, "headers": headers}})
    assert 3 * MAX_BODY // 4 < len(raw) <= MAX_BODY
    created = await gateway.call("POST", w.path("create"), w.account, data=chunks(raw, 256))
    assert created["httpConfig"]["headers"] == headers


async def test_read_json_waits_for_the_rest_of_the_body() -> None:
    app = web.Application()
    alone = Settings(database_url="postgresql://unused", max_body=MAX_BODY)
    app[SERVICES] = Services(alone, cast(Any, None), system_clock, cast(Any, None), cast(Any, None))
    reader = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    raw = orjson.dumps({"httpConfig": {"url": HOOK}, "displayName": "x" * 200})
    reader.feed_data(raw[:100])
    reading = asyncio.create_task(read_json(make_mocked_request("POST", "/", app=app,
                                                                payload=reader)))
    await asyncio.sleep(0)  # one turn of the loop: the first part has been read
    assert not reading.done()
    reader.feed_data(raw[100:])
    reader.feed_eof()
    assert await reading == orjson.loads(raw)


async def test_token_endpoint_refuses_bad_forms(gateway: Gateway) -> None:
    before = await snapshot(gateway.db)
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    cases: list[tuple[bytes, str]] = [
        (b'{"grant_type": "x"}', "application/json"),
        (b"grant_type=" + grant.encode() + b"&assertion=\xff\xfe", FORM),
        (b"\xff\xfe=\xff", FORM),
        (b"grant_type=%ZZ&assertion=%", FORM),
        (b"", FORM),
        (b"assertion=a.b.c", "text/plain"),
    ]
    for raw, content_type in cases:
        body = await gateway.call(
            "POST", "/oauth2/token", None, data=raw, headers={"Content-Type": content_type},
            expect=400,
        )
        assert_error(body, 400)
    assert await snapshot(gateway.db) == before


async def test_bad_paging_parameters_are_400(gateway: Gateway) -> None:
    w = await world(gateway)
    base = f"/v2/projects/{w.project}"
    lists = [f"{base}/dataconnectors", f"{base}/devices", f"{base}/devices/{w.device}/events"]
    sizes = ["abc", "-1", "1.5", "1e3", "0x10"]
    tokens = ["AA", "_w", "bnVsAA", "MjAyMC0wMS0wMXwA"]  # NUL, invalid UTF-8, "nul\0", "…|\0"
    for path in lists:
        for size in sizes:
            if not path.endswith("/events"):
                for name in ("pageSize", "page_size"):
                    await assert_400(gateway, w.account, path, {name: size})
        for token in tokens:
            for name in ("pageToken", "page_token"):
                await assert_400(gateway, w.account, path, {name: token})
    events = lists[2]
    for params in (
        {"startTime": "yesterday"},
        {"endTime": "2020-13-01T00:00:00Z"},
        {"startTime": "2021-01-01T00:00:00Z", "endTime": "2020-01-01T00:00:00Z"},
        {"endTime": "0001-01-01T00:00:00Z"},
        {"startTime": "0001-01-01T00:00:00+01:00"},
        {"eventTypes": "nope"},
        {"pageToken": "bm90LWEtdGltZXx4"},  # "not-a-time|x"
    ):
        await assert_400(gateway, w.account, events, params)


async def assert_400(gateway: Gateway, account: Account, path: str, params: Any) -> None:
    body = await gateway.call("GET", path, account, expect=400, params=params)
    assert_error(body, 400)


async def test_wrong_method_is_405_and_unknown_path_is_404(gateway: Gateway) -> None:
    w = await world(gateway)
    base = f"/v2/projects/{w.project}"
    for method, path in [
        ("PUT", f"{base}/dataconnectors"),
        ("DELETE", f"{base}/dataconnectors"),
        ("PUT", f"{base}/dataconnectors/{w.connector}"),
        ("GET", f"{base}/devices:batchUpdate"),
        ("GET", f"{base}/devices/{w.device}:publish"),
        ("GET", "/oauth2/token"),
    ]:
        async with gateway.client.request(method, path, headers=w.account.headers) as response:
            assert response.status == 405, (method, path)
            assert "Allow" in response.headers
            assert_error(await response.json(), 405)
    for path in ["/", "/v2", "/v2/nope", f"{base}/dataconnectors/{w.connector}/extra",
                 f"{base}/things", "/v1/projects/x/dataconnectors"]:
        body = await gateway.call("GET", path, w.account, expect=404)
        assert_error(body, 404)


# --- arbitrary JSON at every write route ------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)
TEXTS = st.sampled_from(["", "touch", "temperature", HOOK, "http://10.0.0.1/", "name",
                         "ACTIVE", "USER_DISABLED", "\u0000", "a" * 300]) | st.text(max_size=8)
ANY = JSON | TEXTS


def shaped(*keys: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects using the route's own keys (and sometimes others), with arbitrary values."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), ANY, max_size=len(keys))


HTTP_CONFIG = shaped("url", "signatureSecret", "headers") | ANY
CONNECTOR = st.fixed_dictionaries(
    {}, optional={"httpConfig": HTTP_CONFIG, "displayName": ANY, "status": ANY, "events": ANY,
                  "labels": ANY, "type": ANY, "name": ANY},
) | ANY
DEVICE = shaped("type", "labels", "productNumber") | ANY
EVENT_TYPE = st.sampled_from(["touch", "temperature", "humidity", "networkStatus",
                              "labelsChanged", "co2", "nope"])
PUBLISH = st.dictionaries(EVENT_TYPE, shaped("updateTime", "value", "samples", "state") | ANY,
                          min_size=1, max_size=2) | ANY


def bodies(w: World) -> dict[str, st.SearchStrategy[Any]]:
    """A body strategy per route, naming the world's device some of the time."""
    device = st.sampled_from([w.device, "emu00000000000000000000"]) | TEXTS
    name = st.sampled_from([w.device_name(), w.device]) | TEXTS
    batch = st.fixed_dictionaries(
        {}, optional={"devices": st.lists(name, max_size=3) | ANY, "addLabels": ANY,
                      "removeLabels": ANY},
    ) | ANY
    event = st.fixed_dictionaries({"device": device, "data": PUBLISH}, optional={"eventId": ANY})
    publish_batch = st.fixed_dictionaries({"events": st.lists(event | ANY, max_size=3)}) | ANY
    return {"create": CONNECTOR, "patch": CONNECTOR, "device": DEVICE, "batch": batch,
            "publish": PUBLISH, "publishBatch": publish_batch}


@pytest_asyncio.fixture
async def fuzzed(gateway: Gateway) -> World:
    """One world for every example of a property test."""
    return await world(gateway)


@hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_arbitrary_json_never_makes_a_500(
    gateway: Gateway, fuzzed: World, data: st.DataObject
) -> None:
    strategies = bodies(fuzzed)
    route = data.draw(st.sampled_from([*strategies, "token"]), label="route")
    if route == "token":
        form = data.draw(st.dictionaries(st.sampled_from(["grant_type", "assertion"]),
                                         st.text(max_size=30)), label="form")
        async with gateway.client.post("/oauth2/token", data=form) as response:
            check(response.status, await response.json())
        return
    body = data.draw(strategies[route], label="body")
    async with gateway.client.request(
        fuzzed.method(route), fuzzed.path(route), json=body, headers=fuzzed.account.headers
    ) as response:
        check(response.status, await response.json())


def check(status: int, body: Any) -> None:
    assert status < 500, body
    if status >= 400:
        assert_error(body, status)
