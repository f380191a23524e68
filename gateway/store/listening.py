"""One LISTEN connection held until it is lost: what the dispatcher's listener and the event
streams' hub both run, each in its own reconnect loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from gateway.store import streams

Notified = Callable[[Any, int, str, object], None]  # (connection, pid, channel, payload)
KEEPALIVE_EVERY = 10.0  # seconds: a dead peer sends nothing, so ask now and then


async def listen_until_lost(
    dsn: str, channels: Mapping[str, Notified], on_listening: Callable[[], None]
) -> None:
    """Connect, LISTEN on `channels`, call `on_listening`, and return once the connection is
    lost (or raise what failed on it); the connection is closed either way."""
    connection = await asyncpg.connect(dsn)
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _c: lost.set())
    try:
        for channel, notified in channels.items():
            await connection.add_listener(channel, notified)
        on_listening()
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), timeout=KEEPALIVE_EVERY)
            except TimeoutError:
                await streams.keepalive(connection)
    finally:
        await connection.close(timeout=2)
