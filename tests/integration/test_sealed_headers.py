"""Custom header values at rest: a dump holds none in clear after a create or a PATCH; values
written in clear by an older gateway are sealed at start and still go out with every push;
re-sealing under a new key keeps them working."""

from __future__ import annotations

import jwt
import orjson
from multidict import CIMultiDictProxy

from gateway.masking import MASK
from gateway.store import secrets
from gateway.store.connector_secrets import place
from gateway.store.crypto import SecretBox, new_key, parse_keys
from tests.harness import TEST_SECRET_KEY, Account, Gateway
from tests.integration.support import (
    connector_id,
    dump,
    get_connector,
    patch_connector,
    restarted,
)
from tests.receiver import Receiver

TOKEN = "Bearer receiver-token-1"
HEADERS = {"Authorization": TOKEN, "x-api-key": "api-key-2", "X-Empty": ""}
MASKED = {"Authorization": MASK, "x-api-key": MASK, "X-Empty": ""}
SECRET = "header-test-signature-secret-0123"


async def stored_headers(gateway: Gateway, connector: str) -> object:
    return await gateway.db.fetchval("SELECT headers FROM connectors WHERE id = $1", connector)


async def pushed_headers(
    gateway: Gateway, account: Account, receiver: Receiver
) -> CIMultiDictProxy[str]:
    """The headers of one push to `/hook`, sent by `gateway` for a fresh event."""
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1.5}})
    assert await gateway.deliver() == 1
    return receiver.at("/hook")[-1].headers


async def test_a_dump_holds_no_header_value_after_create_or_patch(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/hook"), http={"headers": HEADERS})
    connector = connector_id(created)
    tables = await dump(gateway)
    assert "receiver-token-1" not in tables and "api-key-2" not in tables
    assert await stored_headers(gateway, connector) == MASKED  # the names stay readable

    # A header change keeps the failure record, as it did before values were sealed.
    await gateway.db.execute(
        "UPDATE connectors SET failing_since = $2, failure_streak = 5 WHERE id = $1",
        connector, gateway.clock(),
    )  # fmt: skip
    changed = {"Authorization": "Bearer receiver-token-3", "x-api-key": MASK}
    await patch_connector(gateway, account, connector, {"httpConfig": {"headers": changed}})
    tables = await dump(gateway)
    for clear in ("receiver-token-1", "receiver-token-3", "api-key-2"):
        assert clear not in tables
    query = "SELECT failure_streak FROM connectors WHERE id = $1"
    assert await gateway.db.fetchval(query, connector) == 5

    kept = {"Authorization": "Bearer receiver-token-3", "x-api-key": "api-key-2"}
    assert (await get_connector(gateway, account, connector))["httpConfig"]["headers"] == kept
    sent = await pushed_headers(gateway, account, receiver)
    assert (sent["Authorization"], sent["X-Api-Key"]) == (kept["Authorization"], "api-key-2")


async def test_header_values_stored_in_clear_are_sealed_at_start_and_still_push(
    gateway: Gateway, receiver: Receiver
) -> None:
    account, elsewhere = await gateway.project(), await gateway.project()
    http = {"headers": HEADERS, "signatureSecret": SECRET}
    signed = connector_id(await gateway.connector(account, receiver.url("/hook"), http=http))
    plain = connector_id(await gateway.connector(elsewhere, receiver.url("/hook")))
    # As a gateway from before header values were sealed left them: in the headers column,
    # beside a sealed value holding only the signing secrets, or beside none.
    older = orjson.dumps({"signatureSecret": SECRET, "webhookSecrets": []})
    sealed = gateway.box.seal(older, place(account.project_id, signed))
    await gateway.db.execute(
        "UPDATE connectors SET headers = $2, sealed_secrets = $3 WHERE id = $1",
        signed, HEADERS, sealed,
    )  # fmt: skip
    await gateway.db.execute("UPDATE connectors SET headers = $2 WHERE id = $1", plain, HEADERS)

    async with restarted(gateway) as started:
        for connector in (signed, plain):
            assert await stored_headers(started, connector) == MASKED
        assert "receiver-token-1" not in await dump(started)
        async with started.db.acquire() as connection:
            assert await secrets.seal_plain_secrets(connection, started.box) == 0

        sent = await pushed_headers(started, account, receiver)
        assert (sent["Authorization"], sent["X-Api-Key"]) == (TOKEN, "api-key-2")
        jwt.decode(sent["X-Dt-Signature"], SECRET, algorithms=["HS256"])
        sent = await pushed_headers(started, elsewhere, receiver)
        assert sent["Authorization"] == TOKEN


async def test_re_sealing_under_a_new_key_keeps_header_values_working(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"), http={"headers": HEADERS})
    fresh = new_key()
    both = SecretBox(parse_keys(f"{fresh},{TEST_SECRET_KEY}", "test"))
    counts = await secrets.reseal_all(gateway.db, both)
    assert counts == {"connectors": 1, "signingKeys": 1}  # the headers are a sealed value

    async with restarted(gateway, secret_key=fresh) as moved:  # the old key is gone
        sent = await pushed_headers(moved, account, receiver)
        assert (sent["Authorization"], sent["X-Api-Key"]) == (TOKEN, "api-key-2")
