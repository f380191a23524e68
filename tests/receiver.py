"""A real HTTPS receiver for tests: records every push, answers as each path is told to."""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import trustme
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    text: str = "OK"


@dataclass(frozen=True)
class Received:
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> dict[str, object]:
        return orjson.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_id(self) -> str:
        return self.json["event"]["eventId"]  # type: ignore[index,no-any-return]


class Receiver:
    """Answers 200 unless a path has scripted answers (used in order, the last one repeats)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[Answer]] = defaultdict(deque)
        self.base_url = ""

    def script(self, path: str, *answers: Answer) -> None:
        self._script[path] = deque(answers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def url(self, path: str) -> str:
        return self.base_url + path

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.path, CIMultiDictProxy(CIMultiDict(request.headers)), body))
        answers = self._script.get(request.path)
        answer = Answer()
        if answers:
            answer = answers.popleft() if len(answers) > 1 else answers[0]
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, text=answer.text, headers=answer.headers)


@dataclass(frozen=True)
class TestCA:
    ca: trustme.CA
    bundle: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        return context


def make_ca(directory: Path) -> TestCA:
    ca = trustme.CA()
    bundle = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return TestCA(ca, bundle)


@asynccontextmanager
async def running_receiver(tls: TestCA | None) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context() if tls else None)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.base_url = f"{'https' if tls else 'http'}://localhost:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
