"""Real brokers for the broker connector tests, and a consumer for each.

Redis, Mosquitto and NATS (JetStream) run as processes of the test on free ports, so a test can
stop one and start it again on the same port. RabbitMQ starts too slowly for that: the tests use
the machine's (127.0.0.1:5672, guest/guest) through a TCP relay the test owns, and "the broker
is down" is the relay refusing connections. A test skips, saying why, only when a server binary
or the machine's RabbitMQ is absent (scripts/test installs Debian's packages).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

RABBITMQ = ("127.0.0.1", 5672)


@dataclass(frozen=True)
class Delivered:
    """One message as a consumer got it."""

    address: str  # routing key, topic, subject or stream
    body: bytes
    headers: dict[str, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def binary(name: str) -> str:
    """The server binary's path, or skip: it is genuinely not installed."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if found is None:
        pytest.skip(f"{name} is not installed (scripts/test installs Debian's package)")
    return found


async def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not reachable("127.0.0.1", port):
        assert process.poll() is None, f"the broker exited with {process.returncode}"
        assert time.monotonic() < deadline, "the broker did not start listening in time"
        await asyncio.sleep(0.02)


@dataclass
class BrokerProcess:
    """A broker server run by the test on its own port; `stop` and `start` keep the port."""

    command: list[str]
    port: int
    process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await _wait_listening(self.port, self.process)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 10)
        self.process = None


def redis_process() -> BrokerProcess:
    port = free_port()
    command = [binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no"]  # fmt: skip
    return BrokerProcess(command, port)


def mosquitto_process(directory: Path, acl: str | None = None) -> BrokerProcess:
    port = free_port()
    config = directory / f"mosquitto-{port}.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false"]
    if os.geteuid() == 0:
        lines.append("user root")  # else it drops to `mosquitto`, who cannot read tmp_path
    if acl is not None:
        acl_file = directory / f"acl-{port}"
        acl_file.write_text(acl)
        lines.append(f"acl_file {acl_file}")
    config.write_text("\n".join(lines) + "\n")
    return BrokerProcess([binary("mosquitto"), "-c", str(config)], port)


def nats_process(directory: Path) -> BrokerProcess:
    port = free_port()
    store = directory / f"jetstream-{port}"
    command = [binary("nats-server"), "-js", "-a", "127.0.0.1", "-p", str(port),
               "-sd", str(store)]  # fmt: skip
    return BrokerProcess(command, port)


@dataclass
class Relay:
    """A TCP relay to RabbitMQ the test can take down (refused connections) and bring back."""

    port: int = field(default_factory=free_port)
    _server: asyncio.Server | None = None
    _links: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._links):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*RABBITMQ)
        self._links.update((writer, upstream_writer))
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer),
            return_exceptions=True,
        )  # fmt: skip
        self._links.difference_update((writer, upstream_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def text_headers(headers: Any) -> dict[str, str]:
    """Header values as text, whichever form a client library hands them over in."""
    return {_text(name): _text(value) for name, value in (headers or {}).items()}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextlib.asynccontextmanager
async def running(broker: BrokerProcess | Relay) -> AsyncIterator[None]:
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
