"""The aiohttp adapter, through pytest-aiohttp's real test server and client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from gateway.push.signing import sign_body
from receivers_testkit import NOW, OTHER_SECRET, SECRET, push_body

from receivers import Deduplicator, Push, Reason, VerificationError
from receivers.adapters.aiohttp import verified, verify_request

BODY = push_body()
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def signed_headers(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-dt-signature": sign_body(body, secret, now=NOW)}


def decorated_app(
    status: int = 200, dedupe: Deduplicator | None = None
) -> tuple[web.Application, list[Push]]:
    received: list[Push] = []

    @verified(secret=SECRET, clock=lambda: NOW, dedupe=dedupe)
    async def receive(push: Push, request: web.Request) -> web.Response:
        received.append(push)
        return web.Response(status=status, text=push.event.event_type)

    app = web.Application()
    app.router.add_post("/", receive)
    return app, received


async def test_verify_request_returns_the_push(aiohttp_client: ClientFactory) -> None:
    async def receive(request: web.Request) -> web.Response:
        try:
            push = await verify_request(request, SECRET, now=NOW)
        except VerificationError as error:
            return web.Response(status=400, text=error.reason)
        return web.Response(text=push.event.event_id)

    app = web.Application()
    app.router.add_post("/", receive)
    client = await aiohttp_client(app)

    ok = await client.post("/", data=BODY, headers=signed_headers())
    bad = await client.post("/", data=BODY, headers=signed_headers(secret=OTHER_SECRET))

    assert (ok.status, await ok.text()) == (200, "c82gg9catj3vmh4248og")
    assert (bad.status, await bad.text()) == (400, Reason.BAD_SIGNATURE)


async def test_the_decorator_passes_the_push(aiohttp_client: ClientFactory) -> None:
    app, received = decorated_app()
    client = await aiohttp_client(app)

    response = await client.post("/", data=BODY, headers=signed_headers())

    assert (response.status, await response.text()) == (200, "touch")
    assert len(received) == 1


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (BODY.replace(b"touch", b"tooch"), signed_headers()),
        (BODY, signed_headers(secret=OTHER_SECRET)),
        (BODY, {"Content-Type": "application/json"}),
    ],
    ids=["tampered-body", "wrong-secret", "missing-header"],
)
async def test_the_decorator_answers_400_to_unverified_pushes(
    aiohttp_client: ClientFactory, body: bytes, headers: dict[str, str]
) -> None:
    app, received = decorated_app()
    client = await aiohttp_client(app)

    response = await client.post("/", data=body, headers=headers)

    assert (response.status, await response.text()) == (400, "Could not verify request.")
    assert received == []


async def test_the_decorator_acknowledges_duplicates_once(aiohttp_client: ClientFactory) -> None:
    app, received = decorated_app(dedupe=Deduplicator())
    client = await aiohttp_client(app)

    statuses = [(await client.post("/", data=BODY, headers=signed_headers())).status for _ in "ab"]

    assert statuses == [200, 200]
    assert len(received) == 1


async def test_a_failed_delivery_is_processed_again(aiohttp_client: ClientFactory) -> None:
    app, received = decorated_app(status=500, dedupe=Deduplicator())
    client = await aiohttp_client(app)

    for _ in "ab":
        await client.post("/", data=BODY, headers=signed_headers())

    assert len(received) == 2


def test_the_secret_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DT_SIGNATURE_SECRET", raising=False)

    with pytest.raises(ValueError, match="DT_SIGNATURE_SECRET"):
        verified(secret=None)
