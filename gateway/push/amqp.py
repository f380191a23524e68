"""AMQP 0-9-1 (RabbitMQ) with aio-pika: persistent messages, publisher confirms, `mandatory`.

A publish is done when the broker confirms it (Basic.Ack); a message no queue takes comes back
(Basic.Return) and a Basic.Nack is a refusal, both failures to retry. One robust connection per
broker URL reconnects by itself; each exchange gets a channel of its own on it, because a
broker error (an exchange that does not exist) closes the channel it happened on, and that must
not fail the other connectors publishing to the same broker.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from pamqp.commands import Basic

from gateway.model import Connector
from gateway.push.senders import BrokerRefused, Clients, Message, Options, check_public


class AmqpPublisher:
    def __init__(self, options: Options) -> None:
        self._options = options
        self._connections: Clients[str, AbstractRobustConnection] = Clients(
            self._connect, _close
        )
        self._channels: Clients[tuple[str, str], AbstractRobustChannel] = Clients(
            self._open_channel, _close
        )

    async def _connect(self, url: str) -> AbstractRobustConnection:
        await check_public(url, self._options)
        tls = self._options.tls_context() if urlsplit(url).scheme == "amqps" else None
        return await aio_pika.connect_robust(
            url, ssl_context=tls, timeout=self._options.timeout,
            client_properties={"connection_name": "data-connector-gateway"},
        )  # fmt: skip

    async def _open_channel(self, key: tuple[str, str]) -> AbstractRobustChannel:
        connection = await self._connections.get(key[0])
        channel = await connection.channel(publisher_confirms=True)
        assert isinstance(channel, AbstractRobustChannel)
        return channel

    async def publish(self, connector: Connector, message: Message) -> None:
        """Publish one persistent message and wait for the broker's confirm."""
        name = str(connector.config.get("exchange", ""))
        key = (connector.url, name)
        channel = await self._channels.get(key)
        try:
            exchange = (
                await channel.get_exchange(name, ensure=False) if name else channel.default_exchange
            )
            confirmation = await exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=dict(message.headers),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.event_id,
                    app_id="data-connector-gateway",
                ),
                routing_key=message.render(str(connector.config["routingKey"])),
                mandatory=True,
            )
        except (aiormq.exceptions.ChannelClosed, aiormq.exceptions.ChannelInvalidStateError):
            await self._channels.discard(key, channel)  # the broker closed it; open a new one
            raise
        if isinstance(confirmation, Basic.Ack):
            return
        if isinstance(confirmation, Basic.Nack):
            raise BrokerRefused("the broker refused the message (basic.nack)")
        raise BrokerRefused(
            f"no queue is bound to exchange {name or '(default)'!r} for this routing key; "
            "the message was returned"
        )

    async def close(self) -> None:
        await self._channels.close()
        await self._connections.close()


async def _close(client: AbstractRobustConnection | AbstractRobustChannel) -> None:
    await client.close()


def publisher(options: Options) -> AmqpPublisher:
    """This module's publisher (gateway/push/senders.py imports it on first use)."""
    return AmqpPublisher(options)
