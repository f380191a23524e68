"""The asymmetric signing keys: one current key shared by every replica, retired keys kept
published until their last tokens expired. Private keys are sealed with the secret box."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store import sql
from gateway.store.crypto import SecretBox


def place(kid: str) -> bytes:
    """What a sealed private key is bound to: its row."""
    return f"signing_keys/{kid}".encode()


async def current(db: asyncpg.Pool, box: SecretBox) -> tuple[str, bytes] | None:
    """(kid, private key DER) of the key that signs now, or None before the first start."""
    row = await db.fetchrow(sql("current_signing_key"))
    if row is None:
        return None
    return row["kid"], box.open(row["sealed_private_key"], place(row["kid"]))


async def ensure(
    db: asyncpg.Pool,
    box: SecretBox,
    kid: str,
    der: bytes,
    jwk: Mapping[str, Any],
    now: datetime,
) -> tuple[str, bytes]:
    """The current key, storing the one offered if there is none yet.

    Replicas starting at once may all offer one: the unique index lets one insert win, and
    every replica then reads the winner.
    """
    found = await current(db, box)
    if found is not None:
        return found
    sealed = box.seal(der, place(kid))
    await db.execute(sql("insert_first_signing_key"), kid, sealed, dict(jwk), now)
    found = await current(db, box)
    assert found is not None
    return found


async def rotate(
    db: asyncpg.Pool,
    box: SecretBox,
    kid: str,
    der: bytes,
    jwk: Mapping[str, Any],
    now: datetime,
) -> None:
    """Retire the current key and make the one offered current, in one transaction."""
    async with db.acquire() as connection, connection.transaction():
        await connection.execute(sql("lock_signing_keys"))
        await connection.execute(sql("retire_signing_keys"), now)
        await connection.execute(
            sql("insert_signing_key"), kid, box.seal(der, place(kid)), dict(jwk), now
        )


async def published(db: asyncpg.Pool, retired_after: datetime) -> list[dict[str, Any]]:
    """The public keys of the JWKS: the current one, and those retired after `retired_after`."""
    rows = await db.fetch(sql("published_signing_keys"), retired_after)
    return [dict(row["public_jwk"]) for row in rows]
