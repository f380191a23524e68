from tests.harness import Gateway


async def test_create_and_get_connector(gateway: Gateway) -> None:
    account = await gateway.project()
    base = f"/v2/projects/{account.project_id}/dataconnectors"
    created = await gateway.call(
        "POST", base, account, json={"httpConfig": {"url": "https://example.com/hook"}}
    )
    assert created["status"] == "ACTIVE"
    connector_id = created["name"].split("/")[-1]
    got = await gateway.call("GET", f"{base}/{connector_id}", account)
    assert got == created
