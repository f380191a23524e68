"""The pushes' HTTP client: kept-alive HTTP/1.1 connections by host, one POST at a time each.

A push needs none of what aiohttp's `ClientSession` is built for (cookies, redirects, proxies,
compression, streamed bodies), and on the push path its request machinery cost more CPU than
the rest of a delivery (docs/architecture.md). The public-address rule applies at connect time
to every address a name resolves to, and to IP literals (which never go through a resolver).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Mapping

import yarl

from gateway.push.addresses import TargetRefused, refuse_private_peer
from gateway.push.http_connection import Answer, AnswerError, Connection, encode_request

IDLE_SECONDS = 15.0  # an idle connection older than this is closed, not reused

_Key = tuple[str, str, int]


class HttpClient:
    """Kept-alive connections by (scheme, host, port), at most `limit` of them idle."""

    def __init__(
        self, timeout: float, limit: int, context: ssl.SSLContext, public_only: bool,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:  # fmt: skip
        self.timeout = timeout
        self._idle_seconds = idle_seconds
        self._limit = limit
        self._context = context
        self._public_only = public_only
        self._idle: dict[_Key, list[Connection]] = {}
        self._idle_count = 0
        self._swept_at = 0.0
        self._closed = False

    async def post(self, url: yarl.URL, headers: Mapping[str, str], body: bytes) -> Answer:
        """POST `body` once, within the client's timeout. Raises TimeoutError, AnswerError,
        TargetRefused, ssl.SSLError, OSError (socket.gaierror for names that do not resolve),
        or ValueError for a request that cannot be written."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        request = encode_request(url, headers, body)
        key = (url.scheme, url.raw_host or "", url.port or 0)
        connection = self._reused(key, loop.time())
        if connection is not None:
            try:
                return await self._exchange(key, connection, request, deadline)
            except (AnswerError, ConnectionError):
                if not connection.silent:
                    raise
                # The receiver closed a kept connection as the request went out (its idle
                # timeout): nothing was answered, so the push goes once more on a new one.
        async with asyncio.timeout_at(deadline):
            connection = await self._connect(url)
        return await self._exchange(key, connection, request, deadline)

    async def _exchange(
        self, key: _Key, connection: Connection, request: bytes, deadline: float
    ) -> Answer:
        try:
            answer = await connection.exchange(request, deadline)
        except BaseException:
            connection.close()
            raise
        self._release(key, connection, asyncio.get_running_loop().time())
        return answer

    async def close(self) -> None:
        """Close the idle connections, and each busy one when its push ends."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        self._idle_count = 0

    def _reused(self, key: _Key, now: float) -> Connection | None:
        connections = self._idle.get(key)
        while connections:
            connection = connections.pop()
            self._idle_count -= 1
            if self._usable(connection, now):
                return connection
            connection.close()
        return None

    def _usable(self, connection: Connection, now: float) -> bool:
        transport = connection.transport
        return (
            connection.reusable and transport is not None and not transport.is_closing()
            and now - connection.idle_since < self._idle_seconds
        )  # fmt: skip

    def _release(self, key: _Key, connection: Connection, now: float) -> None:
        if not connection.reusable or self._closed:
            connection.close()
            return
        connection.idle_since = now
        self._idle.setdefault(key, []).append(connection)
        self._idle_count += 1
        if self._idle_count > self._limit:
            self._close_oldest()
        if now - self._swept_at > self._idle_seconds:
            self._sweep(now)

    def _close_oldest(self) -> None:
        key = min(
            (k for k, connections in self._idle.items() if connections),
            key=lambda k: self._idle[k][0].idle_since,
        )
        self._idle[key].pop(0).close()
        self._idle_count -= 1

    def _sweep(self, now: float) -> None:
        """Close what has idled too long or died, so idle hosts do not hold sockets."""
        self._swept_at = now
        for key, connections in list(self._idle.items()):
            kept = []
            for connection in connections:
                if self._usable(connection, now):
                    kept.append(connection)
                else:
                    connection.close()
            self._idle_count -= len(connections) - len(kept)
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]

    async def _connect(self, url: yarl.URL) -> Connection:
        """A new connection to the first address of the host that accepts one."""
        loop = asyncio.get_running_loop()
        host, port = url.raw_host or "", url.port or 443
        tls = url.scheme == "https"
        error: OSError = OSError(f"{host} has no address")
        for family, kind, proto, _, address in await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            if self._public_only:
                try:
                    refuse_private_peer(address, host)
                except TargetRefused as refusal:
                    error = refusal
                    continue
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
                _, connection = await loop.create_connection(
                    Connection, sock=sock, ssl=self._context if tls else None,
                    server_hostname=host if tls else None,
                )  # fmt: skip
            except ssl.SSLError:
                sock.close()
                raise  # the peer answered, with a certificate that is refused
            except OSError as failure:
                sock.close()
                error = failure
                continue
            except BaseException:
                sock.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection
        raise error
