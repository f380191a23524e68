"""The secret box at start-up: which key opens the stored secrets, sealing those stored in
clear, and re-sealing everything under a new key.

A SQL migration cannot encrypt, so secrets written before they were sealed (signature secrets,
then broker passwords, tokens and credentials, then custom header values) are sealed here, in
Python, under the migration lock: replicas starting at once seal each value once.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg
import structlog

from gateway.masking import SECRET_CONFIG_KEYS
from gateway.store import Connection, sql
from gateway.store.connector_secrets import (
    clear_config,
    clear_headers,
    clear_url,
    open_row,
    seal_secrets,
)
from gateway.store.connector_secrets import place as connector_place
from gateway.store.crypto import (
    SecretBox,
    SecretKeyError,
    create_key_file,
    parse_keys,
    read_key_file,
)
from gateway.store.migrate import migration_lock
from gateway.store.signing_keys import place as key_place

log = structlog.get_logger(__name__)
SETTING = "GATEWAY_SECRET_KEY"


async def open_box(connection: Connection, configured: str | None, data_dir: Path) -> SecretBox:
    """The box for this process; stops (SecretKeyError) rather than sign with a wrong key.

    The key is `GATEWAY_SECRET_KEY`, else the data directory's key file, which is made only
    while nothing sealed is stored (a lost key file must not be silently replaced).
    """
    async with migration_lock(connection):
        needed = {bytes(row["key_id"]) for row in await connection.fetch(sql("sealed_key_ids"))}
        keys = parse_keys(configured, SETTING) if configured else read_key_file(data_dir)
        if keys is None:
            if needed:
                raise SecretKeyError(
                    f"the database holds sealed secrets, but {SETTING} is not set and "
                    f"{data_dir / 'secret.key'} does not exist: set {SETTING} to the key "
                    "they were sealed with"
                )
            keys = create_key_file(data_dir)
            log.warning("secret_key_file_created", path=str(data_dir / "secret.key"))
        box = SecretBox(keys)
        unknown = sorted(key.hex() for key in needed if not box.opens(key))
        if unknown:
            raise SecretKeyError(
                f"{SETTING} does not hold the key the stored secrets are sealed with "
                f"(key ids {', '.join(unknown)}); add that key to {SETTING}"
            )
        sealed = await seal_plain_secrets(connection, box)
        if sealed:
            log.info("plain_secrets_sealed", connectors=sealed)
        return box


async def seal_plain_secrets(connection: Connection, box: SecretBox) -> int:
    """Seal the secrets stored in clear: signature secrets, broker passwords, tokens and
    credentials, and custom header values. Returns how many connectors held some."""
    sealed = 0
    async with connection.transaction():
        keys = list(SECRET_CONFIG_KEYS)
        for row in await connection.fetch(sql("plain_connector_secrets"), keys):
            columns = _sealed_columns(row, box)
            if columns is not None:
                await connection.execute(sql("seal_plain_connector_secrets"), *columns)
                sealed += 1
    return sealed


def _sealed_columns(row: asyncpg.Record, box: SecretBox) -> tuple[object, ...] | None:
    """The row's key, clear url, headers and config and sealed value; None when nothing is in
    clear."""
    connector = open_row(row, box)
    if row["signature_secret"]:  # written before signature secrets were sealed
        connector = replace(connector, signature_secret=row["signature_secret"])
    clear = (
        clear_url(connector.url),
        clear_headers(connector.headers),
        clear_config(connector.config),
    )
    if clear == (row["url"], row["headers"], row["config"]) and not row["signature_secret"]:
        return None  # the "@" the query matched was not a user part's
    return row["project_id"], row["id"], *clear, seal_secrets(box, connector)


async def reseal_all(db: asyncpg.Pool, box: SecretBox) -> dict[str, int]:
    """Every sealed value sealed again under the box's first key (after a key change)."""
    async with db.acquire() as connection, migration_lock(connection), connection.transaction():
        rows = await connection.fetch(sql("sealed_connector_secrets"))
        for row in rows:
            fresh = box.reseal(row["sealed_secrets"], connector_place(row["project_id"], row["id"]))
            await connection.execute(
                sql("set_connector_secrets"), row["project_id"], row["id"], fresh
            )
        keys = await connection.fetch(sql("all_sealed_signing_keys"))
        for key in keys:
            fresh = box.reseal(key["sealed_private_key"], key_place(key["kid"]))
            await connection.execute(sql("reseal_signing_key"), key["kid"], fresh)
    return {"connectors": len(rows), "signingKeys": len(keys)}
