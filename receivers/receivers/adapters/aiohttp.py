"""aiohttp: `await verify_request(request, secret)`, or the `verified` handler decorator.

@verified(secret=SECRET)
async def receive(push: Push, request: web.Request) -> web.Response:
    return web.Response(text="OK")
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias, overload

from aiohttp import web

from receivers.adapters import REJECTION_STATUS, REJECTION_TEXT
from receivers.config import resolve_verifier
from receivers.dedupe import Deduplicator
from receivers.errors import VerificationError
from receivers.push import Push
from receivers.verify import DEFAULT_LEEWAY, verify

Handler: TypeAlias = Callable[[Push, web.Request], Awaitable[web.StreamResponse]]
View: TypeAlias = Callable[[web.Request], Awaitable[web.StreamResponse]]

logger = logging.getLogger("receivers")


async def verify_request(
    request: web.BaseRequest,
    secret: str,
    *,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> Push:
    """Read the request's raw body and verify it; raises `VerificationError` on failure."""
    body = await request.read()
    return verify(body, request.headers, secret, now=now, leeway=leeway)


@overload
def verified(handler: Handler, /) -> View: ...


@overload
def verified(
    handler: None = None,
    /,
    *,
    secret: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    clock: Callable[[], float] = time.time,
    dedupe: Deduplicator | None = None,
) -> Callable[[Handler], View]: ...


def verified(
    handler: Handler | None = None,
    /,
    *,
    secret: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    clock: Callable[[], float] = time.time,
    dedupe: Deduplicator | None = None,
) -> View | Callable[[Handler], View]:
    """Turn `handler(push, request)` into an aiohttp handler that verifies the request first.

    Same options and answers as the Flask adapter's `verified`: the secret defaults to
    `DT_SIGNATURE_SECRET` (`ValueError` when empty), failures answer 400 `Could not verify
    request.`, and `dedupe` answers already processed event ids with 200 `OK`.
    """
    verifier = resolve_verifier(secret, leeway, clock)

    def decorate(inner: Handler) -> View:
        @functools.wraps(inner)
        async def view(request: web.Request) -> web.StreamResponse:
            try:
                push = verifier.verify(await request.read(), request.headers)
            except VerificationError as error:
                logger.warning("push_rejected reason=%s detail=%s", error.reason, error.detail)
                return web.Response(status=REJECTION_STATUS, text=REJECTION_TEXT)
            if dedupe is None:
                return await inner(push, request)
            return await _once(dedupe, push, functools.partial(inner, push, request))

        return view

    return decorate if handler is None else decorate(handler)


async def _once(
    dedupe: Deduplicator, push: Push, call: Callable[[], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    event_id = push.event.event_id
    if not dedupe.claim(event_id):
        logger.info("push_duplicate event_id=%s", event_id)
        return web.Response(text="OK")
    try:
        response = await call()
    except BaseException:
        dedupe.release(event_id)
        raise
    if not 200 <= response.status < 300:
        dedupe.release(event_id)
    return response
