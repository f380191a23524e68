"""Secrets at rest: a dump holds none in clear; secrets stored in clear are sealed at start; a
missing or wrong key stops the gateway; re-sealing under a new key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app import SIGNER
from gateway.store import connectors, secrets, signing_keys
from gateway.store.crypto import SecretBox, SecretKeyError, new_key, parse_keys
from tests.harness import TEST_SECRET_KEY, Gateway
from tests.integration.support import connector_id, dump
from tests.receiver import Receiver


async def test_a_dump_of_the_tables_holds_no_secret_in_clear(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(
        account,
        receiver.url("/hook"),
        http={
            "signatureSecret": "dt-shared-secret-1234",
            "standardWebhooks": {"secret": "generate"},
        },
    )
    whsec = created["httpConfig"]["standardWebhooks"]["secret"]
    private = gateway.client.app[SIGNER].key.private_key.private_numbers().private_value
    tables = await dump(gateway)
    for clear in ("dt-shared-secret-1234", whsec, whsec.removeprefix("whsec_"), account.secret):
        assert clear not in tables
    assert f"{private:064x}" not in tables
    assert "PRIVATE KEY" not in tables


async def test_secrets_stored_in_clear_are_sealed_at_start(
    gateway: Gateway, receiver: Receiver, tmp_path: Path
) -> None:
    account = await gateway.project()
    created = await gateway.connector(account, receiver.url("/hook"))
    connector = connector_id(created)
    # As a gateway from before sealing left it.
    await gateway.db.execute(
        "UPDATE connectors SET signature_secret = 'legacy-secret', sealed_secrets = NULL"
        " WHERE id = $1", connector,
    )
    async with gateway.db.acquire() as connection:
        await secrets.open_box(connection, TEST_SECRET_KEY, tmp_path)
    row = await gateway.db.fetchrow("SELECT * FROM connectors WHERE id = $1", connector)
    assert row["signature_secret"] == "" and row["sealed_secrets"] is not None
    found = await connectors.get(gateway.db, gateway.box, account.project_id, connector)
    assert found is not None and found.signature_secret == "legacy-secret"


async def test_a_missing_or_wrong_key_stops_the_start(gateway: Gateway, tmp_path: Path) -> None:
    async with gateway.db.acquire() as connection:
        with pytest.raises(SecretKeyError, match="GATEWAY_SECRET_KEY is not set"):
            await secrets.open_box(connection, None, tmp_path)
        assert not (tmp_path / "secret.key").exists()  # no new key beside the sealed secrets
        with pytest.raises(SecretKeyError, match="does not hold the key"):
            await secrets.open_box(connection, new_key(), tmp_path)


@pytest.mark.slow
def test_the_gateway_process_refuses_to_start_with_a_wrong_key(database_url: str) -> None:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_PORT": "0",
           "GATEWAY_SECRET_KEY": TEST_SECRET_KEY}
    migrate = subprocess.run([sys.executable, "-m", "gateway", "admin", "rotate-signing-key"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert migrate.returncode == 0, migrate.stderr
    env["GATEWAY_SECRET_KEY"] = new_key()
    run = subprocess.run([sys.executable, "-m", "gateway", "serve"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "secret key error: GATEWAY_SECRET_KEY does not hold the key" in run.stderr


async def test_reencrypting_moves_every_secret_to_the_new_key(
    gateway: Gateway, receiver: Receiver, tmp_path: Path
) -> None:
    account = await gateway.project()
    created = await gateway.connector(
        account, receiver.url("/hook"), http={"signatureSecret": "s3cret"}
    )
    fresh = new_key()
    both = SecretBox(parse_keys(f"{fresh},{TEST_SECRET_KEY}", "test"))
    counts = await secrets.reseal_all(gateway.db, both)
    assert counts == {"connectors": 1, "signingKeys": 1}

    only_new = SecretBox(parse_keys(fresh, "test"))
    async with gateway.db.acquire() as connection:
        await secrets.open_box(connection, fresh, tmp_path)  # the old key is no longer needed
        with pytest.raises(SecretKeyError):
            await secrets.open_box(connection, TEST_SECRET_KEY, tmp_path)
    found = await connectors.get(
        gateway.db, only_new, account.project_id, connector_id(created)
    )
    assert found is not None and found.signature_secret == "s3cret"
    assert await signing_keys.current(gateway.db, only_new) is not None


async def test_without_a_setting_a_key_file_is_made_once_with_mode_0600(
    pool: object, database_url: str, tmp_path: Path
) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        first = await secrets.open_box(connection, None, tmp_path)
        second = await secrets.open_box(connection, None, tmp_path)
    finally:
        await connection.close()
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600
    assert first.keys == second.keys
