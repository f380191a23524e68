"""One destination per broker type for the tests: its broker, a connector config pointing at it,
and a consumer that reads back what arrived (with its address and headers)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aio_pika
import aiomqtt
import nats
import redis.asyncio as redis
from nats.js.api import StreamConfig

from tests.integration.brokers import (
    RABBITMQ,
    BrokerProcess,
    Delivered,
    Relay,
    mosquitto_process,
    nats_process,
    reachable,
    redis_process,
    text_headers,
    unique,
)

TEMPLATE = "{projectId}.{deviceId}.{eventType}"


class Destination:
    """What the tests need of a broker type; subclasses fill it in."""

    type = ""
    config_key = ""
    broker: BrokerProcess | Relay

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def address(self, project_id: str, device_id: str, event_type: str) -> str:
        return f"{self.prefix}{project_id}.{device_id}.{event_type}"

    prefix = ""

    async def open(self) -> None:
        await self.broker.start()

    async def close(self) -> None:
        await self.broker.stop()

    async def messages(self, count: int) -> list[Delivered]:
        """What arrived, once at least `count` messages did (consumers receive asynchronously)."""
        deadline = time.monotonic() + 10
        while len(found := await self.stored()) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return found

    async def stored(self) -> list[Delivered]:
        raise NotImplementedError

    async def stop_broker(self) -> None:
        await self.broker.stop()

    async def start_broker(self) -> None:
        await self.broker.start()


class AmqpDestination(Destination):
    type, config_key = "AMQP", "amqpConfig"

    def __init__(self, _directory: Path) -> None:
        import pytest

        if not reachable(*RABBITMQ):
            pytest.skip("no RabbitMQ at 127.0.0.1:5672 (scripts/test installs rabbitmq-server)")
        self.broker = Relay()
        self.exchange = unique("dcg-test-")
        self.received: list[Delivered] = []

    async def open(self) -> None:
        await super().open()
        self.connection = await aio_pika.connect(f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/")
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(self.exchange, "topic", auto_delete=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "#")
        await queue.consume(self._keep, no_ack=True)

    async def _keep(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.received.append(
            Delivered(message.routing_key or "", message.body, text_headers(message.headers))
        )

    async def close(self) -> None:
        await self.connection.close()
        await super().close()

    def config(self) -> dict[str, Any]:
        url = f"amqp://guest:guest@127.0.0.1:{self.broker.port}/"
        return {"url": url, "exchange": self.exchange, "routingKey": TEMPLATE}

    async def stored(self) -> list[Delivered]:
        return list(self.received)


class MqttDestination(Destination):
    type, config_key = "MQTT", "mqttConfig"
    prefix = "dcg/"

    def __init__(self, directory: Path) -> None:
        self.broker = mosquitto_process(directory)
        self.received: list[Delivered] = []
        self._reader: asyncio.Task[None] | None = None

    def address(self, project_id: str, device_id: str, event_type: str) -> str:
        return f"dcg/{project_id}/{device_id}/{event_type}"

    def config(self) -> dict[str, Any]:
        return {"url": f"mqtt://127.0.0.1:{self.broker.port}",
                "topic": "dcg/{projectId}/{deviceId}/{eventType}"}  # fmt: skip

    async def open(self) -> None:
        await super().open()
        await self._subscribe()

    async def _subscribe(self) -> None:
        ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read(ready))
        await asyncio.wait_for(ready.wait(), 10)

    async def _read(self, ready: asyncio.Event) -> None:
        async with aiomqtt.Client(
            "127.0.0.1", self.broker.port, protocol=aiomqtt.ProtocolVersion.V5
        ) as client:
            await client.subscribe("dcg/#", qos=1)
            ready.set()
            async for message in client.messages:
                properties = getattr(message.properties, "UserProperty", [])
                payload = message.payload
                assert isinstance(payload, bytes)
                self.received.append(Delivered(str(message.topic), payload, dict(properties)))

    async def _unsubscribe(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._reader

    async def close(self) -> None:
        await self._unsubscribe()
        await super().close()

    async def stop_broker(self) -> None:
        await self._unsubscribe()
        await super().stop_broker()

    async def start_broker(self) -> None:
        await super().start_broker()
        await self._subscribe()

    async def stored(self) -> list[Delivered]:
        return list(self.received)


class NatsDestination(Destination):
    type, config_key = "NATS", "natsConfig"

    def __init__(self, directory: Path) -> None:
        self.broker = nats_process(directory)
        self.stream = unique("DCG_")
        self.prefix = f"{self.stream}."

    def config(self) -> dict[str, Any]:
        return {"url": f"nats://127.0.0.1:{self.broker.port}", "subject": self.prefix + TEMPLATE}

    async def _client(self) -> nats.NATS:
        return await nats.connect(f"nats://127.0.0.1:{self.broker.port}")

    async def open(self) -> None:
        await super().open()
        client = await self._client()
        await client.jetstream().add_stream(
            StreamConfig(name=self.stream, subjects=[self.prefix + ">"])
        )
        await client.close()

    async def stored(self) -> list[Delivered]:
        client = await self._client()
        try:
            js = client.jetstream()
            info = await js.stream_info(self.stream)
            found = []
            for sequence in range(info.state.first_seq, info.state.last_seq + 1):
                if not info.state.messages:
                    break
                message = await js.get_msg(self.stream, sequence)
                found.append(
                    Delivered(message.subject, message.data or b"", text_headers(message.headers))
                )
            return found
        finally:
            await client.close()


class RedisDestination(Destination):
    type, config_key = "REDIS_STREAM", "redisConfig"
    prefix = "dcg:"

    def __init__(self, _directory: Path) -> None:
        self.broker = redis_process()

    def config(self) -> dict[str, Any]:
        return {"url": f"redis://127.0.0.1:{self.broker.port}/0", "stream": "dcg:" + TEMPLATE,
                "maxLength": 1000}  # fmt: skip

    async def stored(self) -> list[Delivered]:
        client = redis.Redis(port=self.broker.port)
        try:
            found = []
            for key in sorted(await client.keys("dcg:*")):
                for _, fields in await client.xrange(key):
                    body = fields.pop(b"body")
                    found.append(Delivered(key.decode(), body, text_headers(fields)))
            return found
        finally:
            await client.aclose()


DESTINATIONS: dict[str, type[Destination]] = {
    "AMQP": AmqpDestination,
    "MQTT": MqttDestination,
    "NATS": NatsDestination,
    "REDIS_STREAM": RedisDestination,
}
