"""The pushes' HTTP/1.1 client against raw TCP peers: what it sends, what it keeps of an
answer, and when it reuses a connection."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import yarl

from gateway.push.http_client import HttpClient
from gateway.push.http_connection import ANSWER_LIMIT, HEAD_LIMIT, AnswerError

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@dataclass
class Peer:
    """Answers each request with the next of `answers` (the last repeats) and records it."""

    answers: list[bytes]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    hang_up: bool = False  # close each connection after one answer, without saying so
    dropped: set[int] = field(default_factory=set)  # requests (1, 2, ...) hung up on unanswered
    url: yarl.URL = field(default_factory=yarl.URL)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1]) for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )  # fmt: skip
                self.requests.append(head + await reader.readexactly(length))
                if len(self.requests) in self.dropped:
                    break
                answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
                writer.write(answer)
                await writer.drain()
                if self.hang_up or b"Connection: close" in answer:
                    break
        writer.close()


@contextlib.asynccontextmanager
async def peer(*answers: bytes) -> AsyncIterator[Peer]:
    served = Peer(list(answers))
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0)
    served.url = yarl.URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook?x=1")
    async with server:
        yield served
        for writer in served.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def client(timeout: float = 2.0, limit: int = 4, idle_seconds: float = 15.0) -> HttpClient:
    return HttpClient(timeout, limit, ssl.create_default_context(), False, idle_seconds)


async def test_the_request_carries_the_body_its_length_host_and_headers() -> None:
    async with peer(OK) as served:
        http = client()
        answer = await http.post(served.url, {"X-Custom": "1"}, b'{"a": 1}')
        await http.close()
    assert (answer.status, answer.content_type, answer.body) == (200, "text/plain", b"ok")
    request = served.requests[0]
    assert request.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{served.url.port}\r\n".encode() in request
    assert b"Content-Length: 8\r\n" in request
    assert b"X-Custom: 1\r\n" in request
    assert b"User-Agent: data-connector-gateway\r\n" in request
    assert request.endswith(b'\r\n\r\n{"a": 1}')


async def test_a_connectors_own_user_agent_replaces_the_gateways() -> None:
    async with peer(OK) as served:
        http = client()
        await http.post(served.url, {"user-agent": "theirs"}, b"{}")
        await http.close()
    assert b"user-agent: theirs\r\n" in served.requests[0]
    assert b"data-connector-gateway" not in served.requests[0]


async def test_sequential_posts_share_one_kept_alive_connection() -> None:
    async with peer(OK) as served:
        http = client()
        statuses = [(await http.post(served.url, {}, b"{}")).status for _ in range(5)]
        await http.close()
    assert statuses == [200] * 5
    assert served.connections == 1


async def test_connection_close_and_idle_connections_are_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    async with peer(closing) as served:
        http = client()
        for _ in range(3):
            assert (await http.post(served.url, {}, b"{}")).status == 200
        await http.close()
    assert served.connections == 3
    async with peer(OK) as served:
        http = client(idle_seconds=0.05)
        await http.post(served.url, {}, b"{}")
        await asyncio.sleep(0.1)
        await http.post(served.url, {}, b"{}")
        await http.close()
    assert served.connections == 2


async def test_an_interim_answer_is_skipped_for_the_final_one() -> None:
    async with peer(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK) as served:
        http = client()
        assert (await http.post(served.url, {}, b"{}")).status == 200
        await http.close()


async def test_a_long_body_is_cut_at_the_limit_and_its_connection_dropped() -> None:
    size = ANSWER_LIMIT * 4
    long = b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    async with peer(long, OK) as served:
        http = client()
        answer = await http.post(served.url, {}, b"{}")
        assert (answer.status, len(answer.body)) == (500, ANSWER_LIMIT)
        assert (await http.post(served.url, {}, b"{}")).status == 200
        await http.close()
    assert served.connections == 2


async def test_an_endless_head_and_a_non_http_answer_are_refused() -> None:
    endless = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"y" * (HEAD_LIMIT * 2)
    for answer in (endless, b"SSH-2.0-OpenSSH_9.2\r\n"):
        async with peer(answer) as served:
            http = client()
            with pytest.raises(AnswerError):
                await http.post(served.url, {}, b"{}")
            await http.close()


async def test_a_stalled_body_keeps_its_status_and_a_stalled_head_times_out() -> None:
    stalled_body = b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
    async with peer(stalled_body) as served:
        http = client(timeout=0.3)
        assert (await http.post(served.url, {}, b"{}")).status == 204
        await http.close()
    async with peer(b"HTTP/1.1 200") as served:
        http = client(timeout=0.3)
        with pytest.raises(TimeoutError):
            await http.post(served.url, {}, b"{}")
        await http.close()


@pytest.mark.parametrize("headers", [{"X-A": "a\rb"}, {"X-A": "a\x0bb"}, {"X A": "1"}])
async def test_header_text_that_would_split_the_request_is_refused_unsent(
    headers: dict[str, str],
) -> None:
    async with peer(OK) as served:
        http = client()
        with pytest.raises(ValueError, match="header"):
            await http.post(served.url, headers, b"{}")
        await http.close()
    assert served.connections == 0


async def test_idle_connections_past_the_limit_are_closed_oldest_first() -> None:
    async with peer(OK) as first, peer(OK) as second:
        http = client(limit=1)
        await http.post(first.url, {}, b"{}")
        await http.post(second.url, {}, b"{}")  # the first peer's idle connection is closed
        await http.post(first.url, {}, b"{}")
        await http.post(second.url, {}, b"{}")
        await http.close()
    assert (first.connections, second.connections) == (2, 2)


async def test_a_connection_the_receiver_closed_while_idle_is_replaced() -> None:
    async with peer(OK) as served:
        served.hang_up = True
        http = client()
        await http.post(served.url, {}, b"{}")
        await asyncio.sleep(0.05)  # for the receiver's FIN to reach the client
        assert (await http.post(served.url, {}, b"{}")).status == 200
        await http.close()
    assert served.connections == 2


async def test_a_kept_connection_dropped_unanswered_is_retried_once_on_a_new_one() -> None:
    """A receiver's idle timeout can close a kept connection as a request goes out: nothing
    was answered, so the request goes once more, on a new connection."""
    async with peer(OK) as served:
        served.dropped = {2}
        http = client()
        await http.post(served.url, {}, b"{}")
        assert (await http.post(served.url, {}, b"{}")).status == 200
        await http.close()
    assert (len(served.requests), served.connections) == (3, 2)


async def test_a_new_connection_dropped_unanswered_is_a_failure() -> None:
    async with peer(OK) as served:
        served.dropped = {1}
        http = client()
        with pytest.raises(AnswerError, match="without answering"):
            await http.post(served.url, {}, b"{}")
        await http.close()
    assert (len(served.requests), served.connections) == (1, 1)
