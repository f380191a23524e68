"""NATS JetStream with nats-py: a publish is done when the stream acknowledged it (PubAck).

`Nats-Msg-Id` is the delivery's id, so a retry after a lost acknowledgement is dropped by the
stream's duplicate window instead of stored twice, while a :sync (new deliveries) is not.
A subject no stream captures gets no acknowledgement: that is a failure to retry, not a loss.
One connection per server URL and credentials; nats-py reconnects it by itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nats
from nats.aio.client import Client, RawCredentials
from nats.js.errors import NoStreamResponseError

from gateway.model import Connector
from gateway.push.senders import BrokerRefused, Clients, Message, Options, check_public

_Key = tuple[str, str]  # (url, credentials)


class NatsPublisher:
    def __init__(self, options: Options) -> None:
        self._options = options
        self._connections: Clients[_Key, Client] = Clients(self._connect, _close)

    async def _connect(self, key: _Key) -> Client:
        url, credentials = key
        await check_public(url, self._options)
        tls = self._options.tls_context() if urlsplit(url).scheme == "tls" else None
        return await nats.connect(
            url,
            name="data-connector-gateway",
            tls=tls,
            user_credentials=RawCredentials(credentials) if credentials else None,
            connect_timeout=self._options.timeout,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            error_cb=_ignore,
            disconnected_cb=_ignore_event,
            reconnected_cb=_ignore_event,
            closed_cb=_ignore_event,
        )

    async def publish(self, connector: Connector, message: Message) -> None:
        """JetStream publish; returns when a stream stored the message."""
        key = (connector.url, str(connector.config.get("credentials", "")))
        connection = await self._connections.get(key)
        if connection.is_closed:
            await self._connections.discard(key, connection)
            connection = await self._connections.get(key)
        subject = message.render(str(connector.config["subject"]))
        headers = {**message.headers, "Nats-Msg-Id": f"{message.event_id}.{message.delivery_id}"}
        try:
            await connection.jetstream().publish(
                subject, message.body, timeout=self._options.timeout, headers=headers
            )
        except NoStreamResponseError:
            raise BrokerRefused(f"no JetStream stream captures subject {subject!r}") from None

    async def close(self) -> None:
        await self._connections.close()


async def _ignore(_error: Exception) -> None:
    """nats-py logs errors itself unless given a callback; outcomes are recorded per delivery."""


async def _ignore_event() -> None:
    pass


async def _close(connection: Client) -> None:
    await connection.close()


def publisher(options: Options) -> NatsPublisher:
    """This module's publisher (gateway/push/senders.py imports it on first use)."""
    return NatsPublisher(options)
