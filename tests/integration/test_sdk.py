"""The real `disruptive` SDK against the gateway over real HTTP.

The SDK is synchronous, so its calls run in a worker thread while the test's loop serves the app.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import disruptive as dt
import disruptive.requests as dtrequests
import pytest
import pytest_asyncio

from gateway.api import auth
from gateway.config import Settings
from tests.harness import Account, Gateway, configured

T = TypeVar("T")
HOOK = "https://example.com/hook"


async def sdk(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call off the event loop."""
    return await asyncio.to_thread(call, *args, **kwargs)


def service_account(gateway: Gateway, account: Account, secret: str | None = None) -> Any:
    credentials = dt.Auth.service_account(account.key_id, secret or account.secret, account.email)
    credentials.token_endpoint = str(gateway.client.make_url("/oauth2/token"))
    return credentials


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Listing walks three pages of connectors: more than a project's default limit of 100.
    return configured(settings, max_connectors=300)


@pytest.fixture
def sdk_globals() -> Iterator[None]:
    """Restore the SDK's module globals, and its shared paging params, after the test."""
    paginated_get = dtrequests.DTRequest.paginated_get.__func__  # type: ignore[attr-defined]
    saved = (dt.base_url, dt.emulator_base_url, dt.default_auth, dt.request_attempts,
             paginated_get.__defaults__)
    # paginated_get's `params={}` default is shared: a pageToken left there by one paged listing
    # would start the next listing mid-way (see dt-behaviour.md §1.4). Start clean.
    paginated_get.__defaults__ = ({},)
    try:
        yield
    finally:
        (dt.base_url, dt.emulator_base_url, dt.default_auth, dt.request_attempts,
         paginated_get.__defaults__) = saved


@pytest_asyncio.fixture
async def developer(gateway: Gateway, sdk_globals: None) -> AsyncIterator[Account]:
    """A developer whose credentials the SDK uses, with the SDK pointed at the gateway."""
    account = await gateway.project(auth.DEVELOPER)
    dt.base_url = dt.emulator_base_url = str(gateway.client.make_url("/v2"))
    dt.default_auth = service_account(gateway, account)
    yield account


async def test_connector_create_get_update_delete(gateway: Gateway, developer: Account) -> None:
    project = developer.project_id
    config = dt.DataConnector.HttpPushConfig(
        url=HOOK, signature_secret="s3cret", headers={"x-api-key": "abc"}
    )
    full = await sdk(
        dt.DataConnector.create_data_connector, project, config, display_name="my-dcon",
        event_types=[dt.events.TOUCH, dt.events.TEMPERATURE], labels=["name", "floor"],
    )
    assert full.project_id == project
    assert re.fullmatch("[0-9a-v]{20}", full.data_connector_id)
    assert full.display_name == "my-dcon"
    assert full.status == "ACTIVE"
    assert full.data_connector_type == "HTTP_PUSH"
    assert full.event_types == ["touch", "temperature"]
    assert full.labels == ["name", "floor"]
    assert (full.config.url, full.config.signature_secret, full.config.headers) == (
        HOOK, "s3cret", {"x-api-key": "abc"}
    )

    bare = await sdk(dt.DataConnector.create_data_connector, project,
                     dt.DataConnector.HttpPushConfig(url=HOOK))
    assert (bare.display_name, bare.event_types, bare.labels) == ("", [], [])
    assert (bare.config.signature_secret, bare.config.headers) == ("", {})

    got = await sdk(dt.DataConnector.get_data_connector, full.data_connector_id, project)
    assert got._raw == full._raw

    renamed = await sdk(dt.DataConnector.update_data_connector, full.data_connector_id, project,
                        display_name="renamed", status="USER_DISABLED", labels=[])
    assert (renamed.display_name, renamed.status) == ("renamed", "USER_DISABLED")
    assert renamed.labels == []
    assert renamed.event_types == ["touch", "temperature"]

    resecret = await sdk(
        dt.DataConnector.update_data_connector, full.data_connector_id, project,
        config=dt.DataConnector.HttpPushConfig(signature_secret="new-secret"),
    )
    assert resecret.config.signature_secret == "new-secret"
    assert resecret.config.url == HOOK
    assert resecret.config.headers == {"x-api-key": "abc"}
    assert resecret.status == "USER_DISABLED"

    enabled = await sdk(dt.DataConnector.update_data_connector, full.data_connector_id, project,
                        status="ACTIVE", event_types=[])
    assert (enabled.status, enabled.event_types) == ("ACTIVE", [])

    deleted = await sdk(dt.DataConnector.delete_data_connector, full.data_connector_id, project)
    assert deleted is None
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.DataConnector.get_data_connector, full.data_connector_id, project)
    left = await sdk(dt.DataConnector.list_data_connectors, project, params={})
    assert [c.data_connector_id for c in left] == [bare.data_connector_id]


async def test_active_re_enables_a_system_disabled_connector(
    gateway: Gateway, developer: Account
) -> None:
    project = developer.project_id
    dcon = await sdk(dt.DataConnector.create_data_connector, project,
                     dt.DataConnector.HttpPushConfig(url=HOOK))
    now = gateway.clock()
    await gateway.db.execute(
        "UPDATE connectors SET status = 'SYSTEM_DISABLED', failing_since = $2, failure_streak = 9,"
        " retry_at = $2 WHERE id = $1", dcon.data_connector_id, now,
    )
    got = await sdk(dt.DataConnector.get_data_connector, dcon.data_connector_id, project)
    assert got.status == "SYSTEM_DISABLED"
    with pytest.raises(dt.errors.BadRequest):
        await sdk(dt.DataConnector.update_data_connector, dcon.data_connector_id, project,
                  status="SYSTEM_DISABLED")
    enabled = await sdk(dt.DataConnector.update_data_connector, dcon.data_connector_id, project,
                        status="ACTIVE")
    assert enabled.status == "ACTIVE"
    row = await gateway.db.fetchrow(
        "SELECT failing_since, failure_streak, retry_at FROM connectors WHERE id = $1",
        dcon.data_connector_id,
    )
    assert tuple(row) == (None, 0, None)


async def test_list_walks_every_page(gateway: Gateway, developer: Account) -> None:
    path = f"/v2/projects/{developer.project_id}/dataconnectors"
    created = set()
    for i in range(205):
        body = {"displayName": f"c{i}", "httpConfig": {"url": HOOK}}
        created.add((await gateway.call("POST", path, developer, json=body))["name"])
    first = await gateway.call("GET", path, developer)
    assert len(first["dataConnectors"]) == 100 and first["nextPageToken"]

    for _ in range(2):  # a second listing starts from the first page again
        listed = await sdk(dt.DataConnector.list_data_connectors, developer.project_id, params={})
        names = [c._raw["name"] for c in listed]
        assert len(names) == 205 and set(names) == created
    # Also through the SDK's shared default params, reset by the fixture.
    listed = await sdk(dt.DataConnector.list_data_connectors, developer.project_id)
    assert len(listed) == 205


async def test_both_spellings_of_the_paging_parameters(
    gateway: Gateway, developer: Account
) -> None:
    base = f"/v2/projects/{developer.project_id}"
    for _ in range(5):
        await gateway.device(developer, "touch")
        await gateway.connector(developer, HOOK)
    for path, key in ((f"{base}/devices", "devices"), (f"{base}/dataconnectors", "dataConnectors")):
        for size_name, token_name in (("pageSize", "pageToken"), ("page_size", "page_token")):
            seen: list[str] = []
            params = {size_name: "2"}
            while True:
                page = await gateway.call("GET", path, developer, params=params)
                assert len(page[key]) <= 2
                seen += [item["name"] for item in page[key]]
                if not page["nextPageToken"]:
                    break
                params = {size_name: "2", token_name: page["nextPageToken"]}
            assert len(seen) == len(set(seen)) == 5
        everything = await gateway.call("GET", path, developer, params={"pageSize": "500"})
        assert len(everything[key]) == 5 and everything["nextPageToken"] == ""
        assert (await gateway.call("GET", path, developer, params={"pageSize": "0"}))[key]


async def test_event_history_walks_every_page(gateway: Gateway, developer: Account) -> None:
    device = await gateway.device(developer, "touch")
    events = [{"device": device, "data": {"touch": {}}} for _ in range(1000)]
    path = f"/v2/projects/{developer.project_id}/devices:publishBatch"
    await gateway.call("POST", path, developer, json={"events": events})
    gateway.clock.advance(1)
    await gateway.publish(developer, device, {"temperature": {"value": 3}})
    gateway.clock.advance(1)
    history = await sdk(dt.EventHistory.list_events, device, developer.project_id)
    assert len(history) == 1001
    assert len({event.event_id for event in history}) == 1001
    assert history[-1].event_type == "temperature"


async def test_sync_and_metrics(gateway: Gateway, developer: Account) -> None:
    project = developer.project_id
    dcon = await sdk(dt.DataConnector.create_data_connector, project,
                     dt.DataConnector.HttpPushConfig(url=HOOK))
    device = await sdk(dt.Emulator.create_device, project, dt.Device.TOUCH, labels={})
    await sdk(dt.Emulator.publish_event, device.device_id, project, dt.events.Touch())
    assert await sdk(dt.DataConnector.sync_data_connector, dcon.data_connector_id, project) is None
    metric = await sdk(dt.DataConnector.get_metrics, dcon.data_connector_id, project)
    assert (metric.success_count, metric.error_count) == (0, 0)
    assert isinstance(metric.latency, str) and metric.latency.endswith("s")


PUBLISHED: list[tuple[str, Any, Callable[[Any], Any], Any]] = [
    ("touch", dt.events.Touch(), lambda r: r.touch.timestamp is not None, True),
    ("temperature", dt.events.Temperature(celsius=21.5), lambda r: r.temperature.celsius, 21.5),
    ("humidity", dt.events.Humidity(celsius=20, relative_humidity=40),
     lambda r: (r.humidity.celsius, r.humidity.relative_humidity), (20, 40)),
    ("objectPresent", dt.events.ObjectPresent(state="PRESENT"),
     lambda r: r.object_present.state, "PRESENT"),
    ("batteryStatus", dt.events.BatteryStatus(percentage=88),
     lambda r: r.battery_status.percentage, 88),
    ("co2", dt.events.Co2(ppm=650), lambda r: r.co2.ppm, 650),
    ("pressure", dt.events.Pressure(pascal=101325), lambda r: r.pressure.pascal, 101325),
    ("deskOccupancy", dt.events.DeskOccupancy(state="OCCUPIED"),
     lambda r: r.desk_occupancy.state, "OCCUPIED"),
    ("contact", dt.events.Contact(state="OPEN"), lambda r: r.contact.state, "OPEN"),
    ("networkStatus",
     dt.events.NetworkStatus(signal_strength=80, rssi=-50, cloud_connectors=[
         dt.events.NetworkStatusCloudConnector(device_id="ccon1", signal_strength=70, rssi=-60)
     ]),
     lambda r: (r.network_status.rssi, r.network_status.cloud_connectors[0].device_id),
     (-50, "ccon1")),
    ("objectPresentCount", dt.events.ObjectPresentCount(total=7),
     lambda r: r.object_present_count.total, 7),
    ("touchCount", dt.events.TouchCount(total=3), lambda r: r.touch_count.total, 3),
    ("waterPresent", dt.events.WaterPresent(state="NOT_PRESENT"),
     lambda r: r.water_present.state, "NOT_PRESENT"),
    ("motion", dt.events.Motion(state="MOTION_DETECTED"), lambda r: r.motion.state,
     "MOTION_DETECTED"),
    ("probeWireStatus", dt.events.ProbeWireStatus(state="TWO_WIRE"),
     lambda r: r.probe_wire_status.state, "TWO_WIRE"),
    ("connectionStatus", dt.events.ConnectionStatus(connection="ETHERNET", available=["ETHERNET"]),
     lambda r: (r.connection_status.connection, r.connection_status.available),
     ("ETHERNET", ["ETHERNET"])),
    ("ethernetStatus", dt.events.EthernetStatus(mac_address="f0:b5:b7:00:0a:08",
                                                ip_address="10.0.0.1"),
     lambda r: r.ethernet_status.ip_address, "10.0.0.1"),
    ("cellularStatus", dt.events.CellularStatus(signal_strength=55),
     lambda r: r.cellular_status.signal_strength, 55),
]


async def test_emulated_device_reports_what_was_published(
    gateway: Gateway, developer: Account
) -> None:
    project = developer.project_id
    device = await sdk(dt.Emulator.create_device, project, dt.Device.TEMPERATURE,
                       display_name="fridge", labels={"floor": "2"})
    assert device.is_emulated
    assert device.display_name == "fridge"
    assert device.labels == {"name": "fridge", "floor": "2"}
    for _, data, _, _ in PUBLISHED:
        await sdk(dt.Emulator.publish_event, device.device_id, project, data)

    got = await sdk(dt.Device.get_device, device.device_id, project)
    assert got.device_type == "temperature"
    assert set(got._raw["reported"]) >= {event_type for event_type, *_ in PUBLISHED}
    for event_type, _, read, expected in PUBLISHED:
        assert read(got.reported) == expected, event_type

    gateway.clock.advance(1)  # history ends at "now", exclusive
    history = await sdk(dt.EventHistory.list_events, device.device_id, project)
    assert sorted(e.event_type for e in history) == sorted(t for t, *_ in PUBLISHED)
    touches = await sdk(dt.EventHistory.list_events, device.device_id, project,
                        event_types=["touch"])
    assert [e.event_type for e in touches] == ["touch"]


async def test_devices_list_and_labels(gateway: Gateway, developer: Account) -> None:
    project = developer.project_id
    made = [
        await sdk(dt.Emulator.create_device, project, kind, labels={"kind": kind})
        for kind in (dt.Device.TOUCH, dt.Device.HUMIDITY, dt.Device.CO2)
    ]
    ids = [device.device_id for device in made]
    listed = await sdk(dt.Device.list_devices, project)
    assert sorted(d.device_id for d in listed) == sorted(ids)
    assert all(d.reported is not None for d in listed)

    assert await sdk(dt.Device.set_label, ids[0], project, "room", "101") == []
    assert (await sdk(dt.Device.get_device, ids[0], project)).labels == {"kind": "touch",
                                                                         "room": "101"}
    assert await sdk(dt.Device.remove_label, ids[0], project, "kind") == []
    assert (await sdk(dt.Device.get_device, ids[0], project)).labels == {"room": "101"}

    errors = await sdk(dt.Device.batch_update_labels, [*ids, "emu00000000000000000000"], project,
                       set_labels={"site": "oslo"}, remove_labels=["kind"])
    assert [e.device_id for e in errors] == ["emu00000000000000000000"]
    assert [e.status_code for e in errors] == ["NOT_FOUND"]
    for device_id in ids:
        labels = (await sdk(dt.Device.get_device, device_id, project)).labels
        assert labels["site"] == "oslo" and "kind" not in labels

    gateway.clock.advance(1)
    changes = await sdk(dt.EventHistory.list_events, ids[1], project,
                        event_types=["labelsChanged"])
    assert [(c.data.added, c.data.removed) for c in changes] == [({"site": "oslo"}, ["kind"])]

    await sdk(dt.Emulator.delete_device, ids[2], project)
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.Device.get_device, ids[2], project)


async def test_wrong_credentials_raise_unauthorized(gateway: Gateway, developer: Account) -> None:
    project = developer.project_id
    dt.default_auth = service_account(gateway, developer, secret="x" * 86)
    with pytest.raises(dt.errors.Unauthorized):
        await sdk(dt.DataConnector.list_data_connectors, project, params={})
    stranger = await gateway.project()
    dt.default_auth = service_account(gateway, stranger)
    with pytest.raises(dt.errors.NotFound):
        await sdk(dt.DataConnector.list_data_connectors, project, params={})


async def test_user_role_is_forbidden_to_write(gateway: Gateway, developer: Account) -> None:
    reader = await gateway.account(developer.project_id, auth.USER)
    dt.default_auth = service_account(gateway, reader)
    assert await sdk(dt.DataConnector.list_data_connectors, developer.project_id, params={}) == []
    with pytest.raises(dt.errors.Forbidden):
        await sdk(dt.DataConnector.create_data_connector, developer.project_id,
                  dt.DataConnector.HttpPushConfig(url=HOOK))
