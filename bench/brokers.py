"""Broker connectors: deliveries/s through the gateway to each broker, against the same client
library publishing the same messages directly, in the same run.

    .venv/bin/python bench/brokers.py [--events 5000] [--only AMQP,MQTT,NATS,REDIS_STREAM]

The gateway runs in this process on the PostgreSQL at 127.0.0.1:5432 (a fresh database, dropped
afterwards): events are published first (`devices:publishBatch`), then the dispatcher is timed
until everything is delivered (claim, render, sign, publish, wait for the broker's ack, record).
The direct baseline publishes the same bodies with the same headers, as many in flight as one
connector's window (16), each waiting for the same acknowledgement (publisher confirm, PUBACK,
JetStream PubAck, XADD reply). Redis, Mosquitto and NATS run on free ports; RabbitMQ is the
machine's at 127.0.0.1:5672.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import aiomqtt
import asyncpg
import nats
import redis.asyncio as redis
from aiohttp.test_utils import TestClient, TestServer
from nats.js.api import StreamConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.api import auth  # noqa: E402
from gateway.app import DISPATCHER, create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.store import accounts, migrate  # noqa: E402
from tests.integration.brokers import (  # noqa: E402
    BrokerProcess, mosquitto_process, nats_process, redis_process,
)  # fmt: skip

SERVER = "postgresql://postgres@127.0.0.1:5432"
IN_FLIGHT = 16
Publish = Callable[[bytes, dict[str, str], int], Awaitable[None]]


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = f"bench_brokers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    connection = await asyncpg.connect(url)
    await migrate.migrate(connection)
    await connection.close()
    try:
        yield url + "?synchronous_commit=off"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def through_gateway(url: str, type_: str, key: str, config: dict[str, Any], n: int) -> float:
    """Deliveries/s of `n` events to one connector of `type_`."""
    settings = Settings(database_url=url, allow_insecure_targets=True, dispatcher=False)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        app = client.app
        db = await asyncpg.connect(url)
        project = uuid.uuid4().hex[:20]
        await accounts.create_project(db, project, "bench", time_now())
        await db.close()
        from gateway.api.common import SERVICES

        account = await auth.create_service_account(
            app[SERVICES].db, project, auth.DEVELOPER, time_now()
        )
        headers = {"Authorization": basic(account.key_id, account.secret)}
        base = f"/v2/projects/{project}"
        body = {"type": type_, key: {**config, "signatureSecret": "bench-secret"}}
        answer = await client.post(f"{base}/dataconnectors", json=body, headers=headers)
        assert answer.status == 200, await answer.text()
        answer = await client.post(f"{base}/devices", json={"type": "touch"}, headers=headers)
        device = (await answer.json())["name"].rsplit("/", 1)[1]
        events = [{"device": device, "data": {"touch": {}}}] * 1000
        for _ in range(n // 1000):
            answer = await client.post(
                f"{base}/devices:publishBatch", json={"events": events}, headers=headers
            )
            assert answer.status == 200, await answer.text()
        # The dispatcher's own loop (as `serve` runs it), started once everything is queued.
        dispatcher = app[DISPATCHER]
        started = time.perf_counter()
        running = asyncio.create_task(dispatcher.run())
        pool = app[SERVICES].db
        while await pool.fetchval("SELECT count(*) FROM deliveries"):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await dispatcher.stop(5)
        await running
        delivered = int(await pool.fetchval(
            "SELECT sum(successes) FROM push_stats WHERE project_id = $1", project
        ))
        assert delivered == n // 1000 * 1000, delivered
        return delivered / elapsed
    finally:
        await client.close()


async def directly(publish: Publish, n: int) -> float:
    """Messages/s of `publish` over the same bodies, IN_FLIGHT at a time."""
    body = b'{"event":{"eventId":"x","targetName":"projects/p/devices/d","eventType":"touch",' \
           b'"data":{"touch":{"updateTime":"2026-01-01T00:00:00Z"}},"timestamp":' \
           b'"2026-01-01T00:00:00Z"},"labels":{},"metadata":{"deviceId":"d","projectId":"p",' \
           b'"deviceType":"touch","productNumber":""}}'  # fmt: skip
    headers = {"Content-Type": "application/json", "X-Dt-Signature": "h.c.s" * 60}
    queue = iter(range(n))

    async def worker() -> None:
        for index in queue:
            await publish(body, headers, index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return n / (time.perf_counter() - started)


async def bench_amqp(url: str, n: int, _tmp: Path) -> tuple[float, float]:
    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(
        f"bench-{uuid.uuid4().hex[:6]}", "topic", auto_delete=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, "#")
    config = {"url": "amqp://guest:guest@127.0.0.1:5672/", "exchange": exchange.name,
              "routingKey": "{projectId}.{eventType}"}  # fmt: skip
    gateway = await through_gateway(url, "AMQP", "amqpConfig", config, n)
    await queue.purge()

    async def publish(body: bytes, headers: dict[str, str], index: int) -> None:
        message = aio_pika.Message(body, headers=dict(headers), content_type="application/json",
                                   delivery_mode=aio_pika.DeliveryMode.PERSISTENT)  # fmt: skip
        await exchange.publish(message, "p.touch", mandatory=True)

    direct = await directly(publish, n)
    await connection.close()
    return gateway, direct


async def bench_mqtt(url: str, n: int, tmp: Path) -> tuple[float, float]:
    broker = mosquitto_process(tmp)
    return await with_broker(broker, lambda: _mqtt(url, n, broker.port))


async def _mqtt(url: str, n: int, port: int) -> tuple[float, float]:
    config = {"url": f"mqtt://127.0.0.1:{port}", "topic": "dt/{projectId}/{eventType}"}
    gateway = await through_gateway(url, "MQTT", "mqttConfig", config, n)
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5,
                              max_inflight_messages=64) as client:  # fmt: skip

        async def publish(body: bytes, headers: dict[str, str], index: int) -> None:
            await client.publish("dt/p/touch", body, qos=1)

        direct = await directly(publish, n)
    return gateway, direct


async def bench_nats(url: str, n: int, tmp: Path) -> tuple[float, float]:
    broker = nats_process(tmp)
    return await with_broker(broker, lambda: _nats(url, n, broker.port))


async def _nats(url: str, n: int, port: int) -> tuple[float, float]:
    client = await nats.connect(f"nats://127.0.0.1:{port}")
    js = client.jetstream()
    await js.add_stream(StreamConfig(name="BENCH", subjects=["bench.>"]))
    config = {"url": f"nats://127.0.0.1:{port}", "subject": "bench.{projectId}.{eventType}"}
    gateway = await through_gateway(url, "NATS", "natsConfig", config, n)

    async def publish(body: bytes, headers: dict[str, str], index: int) -> None:
        await js.publish("bench.p.touch", body, headers={**headers, "Nats-Msg-Id": str(index)})

    direct = await directly(publish, n)
    await client.close()
    return gateway, direct


async def bench_redis(url: str, n: int, _tmp: Path) -> tuple[float, float]:
    broker = redis_process()
    return await with_broker(broker, lambda: _redis(url, n, broker.port))


async def _redis(url: str, n: int, port: int) -> tuple[float, float]:
    config = {"url": f"redis://127.0.0.1:{port}/0", "stream": "bench:{eventType}",
              "maxLength": 100000}  # fmt: skip
    gateway = await through_gateway(url, "REDIS_STREAM", "redisConfig", config, n)
    client = redis.Redis(port=port, max_connections=64)

    async def publish(body: bytes, headers: dict[str, str], index: int) -> None:
        await client.xadd("bench:direct", {"body": body, **headers}, maxlen=100000,
                          approximate=True)  # fmt: skip

    direct = await directly(publish, n)
    await client.aclose()
    return gateway, direct


async def with_broker(
    broker: BrokerProcess, run: Callable[[], Awaitable[tuple[float, float]]]
) -> tuple[float, float]:
    await broker.start()
    try:
        return await run()
    finally:
        await broker.stop()


STEPS = {"AMQP": bench_amqp, "MQTT": bench_mqtt, "NATS": bench_nats, "REDIS_STREAM": bench_redis}


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def basic(key_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per type (x1000)")
    parser.add_argument("--only", default=",".join(STEPS), help="comma-separated types")
    options = parser.parse_args()
    print(f"{'type':<14}{'gateway /s':>12}{'direct /s':>12}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        async with database() as url:
            for name in options.only.split(","):
                gateway, direct = await STEPS[name](url, options.events, Path(tmp))
                print(f"{name:<14}{gateway:>12.0f}{direct:>12.0f}{gateway / direct:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
