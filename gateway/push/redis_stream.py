"""Redis Streams with redis-py: one XADD per delivery, done when Redis answered the entry id.

The entry's fields are `body` (the exact bytes an HTTP push would carry) and one per header
(`X-Dt-Signature`, ...), plus `eventId`. With `maxLength` set the stream is trimmed
approximately (`MAXLEN ~`), which lets Redis trim whole nodes cheaply. One client per server
URL; its connection pool opens new connections after a drop by itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis

from gateway.model import Connector
from gateway.push.senders import Clients, Message, Options, check_public


class RedisStreamPublisher:
    def __init__(self, options: Options) -> None:
        self._options = options
        self._clients: Clients[str, redis.Redis] = Clients(self._connect, _close)

    async def _connect(self, url: str) -> redis.Redis:
        await check_public(url, self._options)
        tls: dict[str, Any] = {}
        if urlsplit(url).scheme == "rediss" and self._options.ca_bundle:
            tls["ssl_ca_certs"] = self._options.ca_bundle  # only TLS connections take it
        return redis.Redis.from_url(
            url,
            socket_timeout=self._options.timeout,
            socket_connect_timeout=self._options.timeout,
            max_connections=64,
            **tls,
        )

    async def publish(self, connector: Connector, message: Message) -> None:
        """XADD the message; returns once Redis stored it."""
        client = await self._clients.get(connector.url)
        fields: dict[str | bytes, str | bytes] = {"body": message.body}
        fields.update(message.headers)
        fields["eventId"] = message.event_id
        max_length = connector.config.get("maxLength")
        await client.xadd(
            message.render(str(connector.config["stream"])),
            fields,  # type: ignore[arg-type]
            maxlen=int(max_length) if max_length else None,
            approximate=True,
        )

    async def close(self) -> None:
        await self._clients.close()


async def _close(client: redis.Redis) -> None:
    await client.aclose()


def publisher(options: Options) -> RedisStreamPublisher:
    """This module's publisher (gateway/push/senders.py imports it on first use)."""
    return RedisStreamPublisher(options)
