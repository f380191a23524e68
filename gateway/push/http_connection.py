"""One kept-alive HTTP/1.1 connection of the pushes: a request written in one call, its answer
read with llhttp (through httptools).

What is kept of an answer: its status, its Content-Type and Retry-After, and the first
`ANSWER_LIMIT` bytes of its body. The status decides; a body that is too long or too slow is
cut off, with the connection.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httptools
import yarl

ANSWER_LIMIT = 64 * 1024  # bytes of an answer's body kept; past it the connection is dropped
HEAD_LIMIT = 64 * 1024  # bytes of status line and headers before the answer is refused
USER_AGENT = "data-connector-gateway"
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an RFC 9110 token
# What a header value may not hold: every C0 control but HTAB, and DEL (RFC 9110 §5.5).
HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class AnswerError(Exception):
    """The peer's answer was not HTTP, or the peer hung up before giving a status."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What is kept of an answer: the status decides, the rest goes to the delivery log."""

    status: int
    content_type: str
    retry_after: str | None
    body: bytes


class Connection(asyncio.Protocol):
    """One connection: llhttp's callbacks fill in the answer to the request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._head_size = 0
        self._content_type = ""
        self._retry_after: str | None = None
        self._body = bytearray()

    async def exchange(self, request: bytes, deadline: float) -> Answer:
        """Send `request` and wait for its answer until `deadline` (event loop time)."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._reset()
        waiter: asyncio.Future[Answer] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_at(deadline, self._expire)
        self.transport.write(request)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    @property
    def silent(self) -> bool:
        """Nothing has come back for the request in flight."""
        return not self._status and not self._head_size

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _answer(self) -> None:
        """The answer is known: its status and what arrived of its body."""
        if self._waiter is not None and not self._waiter.done():
            answer = Answer(self._status, self._content_type, self._retry_after, bytes(self._body))
            self._waiter.set_result(answer)

    def _fail(self, error: BaseException) -> None:
        self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def _expire(self) -> None:
        if self._status:  # headers in, body too slow: the status stands
            self.close()
            self._answer()
        else:
            self._fail(TimeoutError())

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # nothing asked for this
            return
        if not self._status:
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(AnswerError(f"invalid HTTP answer: {error}"))
            return
        if not self._status and self._head_size > HEAD_LIMIT:
            self._fail(AnswerError(f"answer head over {HEAD_LIMIT} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self._status:
            self._answer()  # a body read until the connection closed
        else:
            self._fail(exc or AnswerError("the receiver closed the connection without answering"))

    # llhttp's callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-type":
            self._content_type = value.decode("latin-1").strip().lower()
        elif name == b"retry-after":
            self._retry_after = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status >= 200:  # a 1xx is interim: the real answer follows it
            self._status = status

    def on_body(self, body: bytes) -> None:
        room = ANSWER_LIMIT - len(self._body)
        self._body += body[:room]
        if len(body) > room:
            self.close()
            self._answer()

    def on_message_complete(self) -> None:
        if self._status:
            self.reusable = self.reusable and self._parser.should_keep_alive()
            self._answer()


@functools.lru_cache(maxsize=1024)  # the few names pushes carry, checked once each
def _is_token(name: str) -> bool:
    return HEADER_NAME.match(name) is not None


def encode_request(url: yarl.URL, headers: Mapping[str, str], body: bytes) -> bytes:
    """The request head and body as one buffer; refuses header text that would split it."""
    if HEADER_VALUE_FORBIDDEN.search("".join(headers.values())):  # one scan for all values
        name = next(n for n, value in headers.items() if HEADER_VALUE_FORBIDDEN.search(value))
        raise ValueError(f"invalid value for header {name!r}")
    lines = [f"POST {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host_port_subcomponent}\r\n"]
    agent = True
    for name, value in headers.items():
        if not _is_token(name):
            raise ValueError(f"invalid header name {name!r}")
        lines.append(f"{name}: {value}\r\n")
        agent = agent and name.lower() != "user-agent"
    if agent:
        lines.append(f"User-Agent: {USER_AGENT}\r\n")
    lines.append(f"Accept: */*\r\nContent-Length: {len(body)}\r\n\r\n")
    return "".join(lines).encode() + body
