"""Device listings filter by ids, types and labels, as DT's SDK asks for them."""

from __future__ import annotations

from tests.harness import Account, Gateway


async def _names(gateway: Gateway, account: Account, query: str) -> set[str]:
    path = f"/v2/projects/{account.project_id}/devices?{query}"
    body = await gateway.call("GET", path, account)
    return {device["name"].split("/")[-1] for device in body["devices"]}


async def test_filters(gateway: Gateway) -> None:
    account = await gateway.project()
    fridge = await gateway.device(account, "temperature", name="fridge", floor="1")
    door = await gateway.device(account, "contact", name="door", floor="1")
    desk = await gateway.device(account, "touch", name="desk")

    assert await _names(gateway, account, "") == {fridge, door, desk}
    assert await _names(gateway, account, f"device_ids={fridge}&device_ids={desk}") == {
        fridge, desk}
    assert await _names(gateway, account, "device_types=contact,touch") == {door, desk}
    assert await _names(gateway, account, "label_filters=floor%3D1") == {fridge, door}
    assert await _names(gateway, account, "label_filters=floor%3D") == {fridge, door}
    assert await _names(gateway, account, "label_filters=name%3Ddoor&device_types=contact") == {
        door}
    assert await _names(gateway, account, "label_filters=floor%3D2") == set()


async def test_unsupported_or_malformed_filters_are_refused(gateway: Gateway) -> None:
    account = await gateway.project()
    base = f"/v2/projects/{account.project_id}/devices"
    for query in ("query=abc", "order_by=reported.touch.updateTime", "label_filters=nokey",
                  "device_ids=%00"):
        body = await gateway.call("GET", f"{base}?{query}", account, expect=400)
        assert body["code"] == 400
