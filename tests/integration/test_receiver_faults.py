"""Receivers that misbehave: each push to one is a failure kept for a later retry, while a healthy
connector of the same project receives its pushes in the same round, and the round ends.

The misbehaving peers are raw TCP servers (they answer what no HTTP framework would) and TLS
servers whose certificate the gateway must refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.config import Settings
from tests.harness import Gateway, configured
from tests.integration.support import connector_id, eventually
from tests.receiver import Receiver, make_ca, running_receiver
from tests.receiver import TestCA as CertificateAuthority  # as Test*, pytest would collect it

PUSH_TIMEOUT = 2.5  # roomy: the healthy connector must be served within 3/4 of it on a loaded machine
EVENTS = 5
HUGE = 10 * 1024 * 1024

Behaviour = Callable[[asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return configured(settings, push_timeout=PUSH_TIMEOUT)


# -- raw TCP peers ----------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            await reader.readexactly(int(value))


@contextlib.asynccontextmanager
async def raw_peer(behaviour: Behaviour) -> AsyncIterator[str]:
    """An http:// URL whose server reads each request, then behaves as told."""
    stop = asyncio.Event()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await _read_request(reader)
            await behaviour(writer, stop)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        stop.set()
        server.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def _reset(writer: asyncio.StreamWriter, _stop: asyncio.Event) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # with SO_LINGER 0: a TCP RST, not a FIN


async def _slow_headers(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    await writer.drain()
    await stop.wait()


def _endless_body(status: bytes) -> Behaviour:
    async def behaviour(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        writer.write(b"HTTP/1.1 " + status + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not stop.is_set():
            writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.01)

    return behaviour


def _huge_body(status: bytes) -> Behaviour:
    async def behaviour(writer: asyncio.StreamWriter, _stop: asyncio.Event) -> None:
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % HUGE)
        chunk = b"x" * 65536
        for _ in range(HUGE // len(chunk)):
            writer.write(chunk)
            await writer.drain()

    return behaviour


def _redirect(status: bytes, location: str) -> Behaviour:
    async def behaviour(writer: asyncio.StreamWriter, _stop: asyncio.Event) -> None:
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nLocation: " + location.encode()
            + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    return behaviour


@contextlib.asynccontextmanager
async def refused() -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}/hook"


# -- TLS peers the gateway must not trust ----------------------------------------------------


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = directory / "self-signed.pem"
    pem.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem)
    return context


def wrong_host_context(test_ca: CertificateAuthority) -> ssl.SSLContext:
    """A certificate from the trusted CA, but for another host."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.ca.issue_cert("example.com").configure_cert(context)
    return context


@contextlib.asynccontextmanager
async def tls_peer(context: ssl.SSLContext) -> AsyncIterator[str]:
    """An https://localhost URL served with `context`; it would answer 200 to any push."""
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/hook", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://localhost:{port}/hook"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def untrusted_ca(directory: Path) -> AsyncIterator[str]:
    async with running_receiver(make_ca(directory)) as stranger:
        yield stranger.url("/hook")


# -- the faults -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peers:
    """What a fault's endpoint may need: the trusted CA, a directory, the healthy receiver."""

    test_ca: CertificateAuthority
    directory: Path
    receiver: Receiver


@dataclass(frozen=True)
class Fault:
    outcome: str  # the gateway_push_attempts_total label it must count
    endpoint: Callable[[Peers], AbstractAsyncContextManager[str]]


FAULTS = {
    "connection refused": Fault("connection_error", lambda _: refused()),
    "reset mid-response": Fault("connection_error", lambda _: raw_peer(_reset)),
    "headers slower than the timeout": Fault("timeout", lambda _: raw_peer(_slow_headers)),
    "503 whose body never ends": Fault(
        "http_5xx", lambda _: raw_peer(_endless_body(b"503 Service Unavailable"))
    ),
    "500 with a 10 MB body": Fault(
        "http_5xx", lambda _: raw_peer(_huge_body(b"500 Internal Server Error"))
    ),
    "302 redirect": Fault(
        "http_3xx", lambda p: raw_peer(_redirect(b"302 Found", p.receiver.url("/followed")))
    ),
    "307 redirect": Fault(
        "http_3xx",
        lambda p: raw_peer(_redirect(b"307 Temporary Redirect", p.receiver.url("/followed"))),
    ),
    "certificate from an unknown CA": Fault(
        "connection_error", lambda p: untrusted_ca(p.directory)
    ),
    "self-signed certificate": Fault(
        "connection_error", lambda p: tls_peer(self_signed_context(p.directory))
    ),
    "certificate for another host": Fault(
        "connection_error", lambda p: tls_peer(wrong_host_context(p.test_ca))
    ),
}


def attempts(gateway: Gateway, outcome: str) -> float:
    value = gateway.metrics.registry.get_sample_value(
        "gateway_push_attempts_total", {"outcome": outcome}
    )
    return value or 0.0


async def due_times(gateway: Gateway, connector: str) -> list[datetime]:
    rows = await gateway.db.fetch(
        "SELECT due_at FROM deliveries WHERE connector_id = $1", connector
    )
    return [row["due_at"] for row in rows]


@pytest.mark.parametrize("name", FAULTS)
async def test_a_misbehaving_receiver_is_a_failure_retried_later(
    gateway: Gateway, receiver: Receiver, test_ca: CertificateAuthority, tmp_path: Path, name: str
) -> None:
    fault = FAULTS[name]
    async with fault.endpoint(Peers(test_ca, tmp_path, receiver)) as url:
        account = await gateway.project()
        faulty = connector_id(await gateway.connector(account, url))
        await gateway.connector(account, receiver.url("/healthy"))
        device = await gateway.device(account)
        for value in range(EVENTS):
            await gateway.publish(account, device, {"temperature": {"value": value}})

        round_ = asyncio.create_task(gateway.deliver())
        # The healthy connector is served while the faulty push may still be pending.
        await eventually(
            lambda: len(receiver.at("/healthy")) == EVENTS, timeout=PUSH_TIMEOUT * 0.75
        )
        attempted = await asyncio.wait_for(round_, timeout=PUSH_TIMEOUT * 4)

    assert attempted >= EVENTS + 1
    assert attempts(gateway, fault.outcome) >= 1
    assert attempts(gateway, "success") == EVENTS
    assert receiver.at("/followed") == []  # a redirect is never followed
    due = await due_times(gateway, faulty)
    assert len(due) == EVENTS
    assert min(due) > gateway.clock()


@pytest.mark.parametrize(
    "behaviour", [_huge_body(b"200 OK"), _endless_body(b"200 OK")], ids=["10 MB", "endless"]
)
async def test_a_2xx_status_is_a_success_whatever_the_body(
    gateway: Gateway, behaviour: Behaviour
) -> None:
    """Only the status counts: a large or endless body is cut short, not read or waited for."""
    async with raw_peer(behaviour) as url:
        account = await gateway.project()
        connector = connector_id(await gateway.connector(account, url))
        device = await gateway.device(account)
        await gateway.publish(account, device, {"temperature": {"value": 1}})

        assert await asyncio.wait_for(gateway.deliver(), timeout=PUSH_TIMEOUT * 0.75) == 1

    assert attempts(gateway, "success") == 1
    assert await due_times(gateway, connector) == []
