"""One way out for every connector type: `Senders.send(connector, message)` -> PushResult.

HTTP_PUSH goes through the process's one HTTP client; each broker type through a publisher of
its own module (push/amqp.py, push/mqtt.py, push/nats.py, push/redis_stream.py), imported on
first use so a gateway without a broker's extra runs every other type. A publisher raises when
the broker did not acknowledge; this module turns that into a PushResult whose error is a short
class (timeout, dns, tls, connection_refused, connection, target_refused, broker_refused,
broker_error) and whose message says what the broker said, credentials removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from gateway.masking import MASK, SECRET_CONFIG_KEYS
from gateway.model import AMQP, HTTP_PUSH, MQTT, NATS, REDIS_STREAM, Connector
from gateway.push.addresses import TargetRefused, is_public_host, refuse_private_peer
from gateway.push.http_client import HttpClient
from gateway.push.post import PushResult, post

_PUBLISHERS = {
    AMQP: "gateway.push.amqp",
    MQTT: "gateway.push.mqtt",
    NATS: "gateway.push.nats",
    REDIS_STREAM: "gateway.push.redis_stream",
}


@dataclass(frozen=True)
class Message:
    """What one delivery sends: the body and headers an HTTP push would carry, and the fields
    broker templates and message ids are made of."""

    body: bytes
    headers: Mapping[str, str]
    project_id: str
    device_id: str
    event_type: str
    event_id: str
    delivery_id: int

    def render(self, template: str) -> str:
        """A routing key, topic, subject or stream name with its placeholders filled in."""
        return (
            template.replace("{projectId}", self.project_id)
            .replace("{deviceId}", self.device_id)
            .replace("{eventType}", self.event_type)
        )


class BrokerRefused(Exception):
    """The broker answered, and the answer was not an acknowledgement."""


class Publisher(Protocol):
    """One broker type's sender; `publish` returns once the broker acknowledged."""

    async def publish(self, connector: Connector, message: Message) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Options:
    """What every publisher needs to know of the gateway's settings."""

    timeout: float
    public_only: bool
    ca_bundle: str | None

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_bundle:
            context.load_verify_locations(cafile=self.ca_bundle)
        return context


async def check_public(url: str, options: Options) -> None:
    """The public-address rule at connect time: every address the host resolves to is public.

    The broker clients resolve and connect by themselves, so this runs before each new
    connection is opened (not on their own reconnects).
    """
    if not options.public_only:
        return
    host = urlsplit(url).hostname or ""
    if not is_public_host(host):
        raise TargetRefused(f"{host} is not a public host")
    port = urlsplit(url).port or 0
    loop = asyncio.get_running_loop()
    for *_, sockaddr in await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        refuse_private_peer(sockaddr, host)


C = TypeVar("C")
K = TypeVar("K")


class Clients(Generic[K, C]):
    """Open broker clients by key (a broker URL and its credentials): opened on first use, one
    open at a time per key, dropped when they fail so the next use opens a fresh one."""

    def __init__(
        self, open_client: Callable[[K], Awaitable[C]], close_client: Callable[[C], Awaitable[None]]
    ) -> None:
        self._open = open_client
        self._close = close_client
        self._clients: dict[K, C] = {}
        self._locks: dict[K, asyncio.Lock] = {}

    async def get(self, key: K) -> C:
        """The open client for `key`, opening it if there is none."""
        client = self._clients.get(key)
        if client is not None:
            return client
        async with self._locks.setdefault(key, asyncio.Lock()):
            client = self._clients.get(key)
            if client is None:
                client = await self._open(key)
                self._clients[key] = client
            return client

    async def discard(self, key: K, client: C) -> None:
        """Forget a client that failed (if it is still the current one) and close it."""
        if self._clients.get(key) is client:
            del self._clients[key]
        with contextlib.suppress(Exception):  # a broken client may fail to close; it is gone
            await self._close(client)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await self._close(client)


def error_class(error: BaseException) -> str:
    """The short class of a failed publish, as the delivery log and metrics show it."""
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, TargetRefused):
        return "target_refused"
    if isinstance(error, BrokerRefused):
        return "broker_refused"
    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, ssl.SSLError):
        return "tls"
    if isinstance(error, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(error, OSError | ConnectionError):
        return "connection"
    return "broker_error"


def redact(text: str, url: str, config: Mapping[str, object]) -> str:
    """`text` without the connector's password, token or credentials in it."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.username if not parts.password else None,
                   *(config.get(key) for key in SECRET_CONFIG_KEYS)):  # fmt: skip
        if isinstance(secret, str) and secret:
            text = text.replace(secret, MASK).replace(unquote(secret), MASK)
    return text[:1024]


class Senders:
    """The process's senders: its HTTP client, and a publisher per broker type in use."""

    def __init__(self, client: HttpClient, options: Options) -> None:
        self._client = client
        self._options = options
        self._publishers: dict[str, Publisher] = {}

    def _publisher(self, kind: str) -> Publisher:
        publisher = self._publishers.get(kind)
        if publisher is None:
            module = importlib.import_module(_PUBLISHERS[kind])
            publisher = module.publisher(self._options)
            self._publishers[kind] = publisher
        return publisher

    async def send(self, connector: Connector, message: Message) -> PushResult:
        """Deliver once; the result is ok only when the endpoint or broker acknowledged."""
        if connector.type == HTTP_PUSH:
            return await post(
                self._client, connector.url, message.body, message.headers,
                public_only=self._options.public_only,
            )  # fmt: skip
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._options.timeout):
                await self._publisher(connector.type).publish(connector, message)
        except Exception as error:  # every client library failure is an outcome, with its text
            text = redact(str(error) or type(error).__name__, connector.url, connector.config)
            return PushResult(
                None, time.perf_counter() - started, error=error_class(error), message=text
            )
        return PushResult(None, time.perf_counter() - started, acknowledged=True)

    async def close(self) -> None:
        """Close every broker connection (the HTTP client belongs to the application)."""
        publishers, self._publishers = list(self._publishers.values()), {}
        for publisher in publishers:
            await publisher.close()
