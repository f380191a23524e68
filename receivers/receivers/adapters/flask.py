"""Flask and Google Cloud Functions (functions-framework hands the handler a Flask request).

@functions_framework.http
@verified
def dataconnector_endpoint(push: Push, request: flask.Request) -> tuple[str, int]:
    return "OK", 200
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeAlias, overload

from flask import make_response, request
from flask.typing import ResponseReturnValue

from receivers.adapters import REJECTION_STATUS, REJECTION_TEXT
from receivers.config import resolve_verifier
from receivers.dedupe import Deduplicator
from receivers.errors import VerificationError
from receivers.push import Push
from receivers.verify import DEFAULT_LEEWAY

P = ParamSpec("P")
Handler: TypeAlias = Callable[Concatenate[Push, P], ResponseReturnValue]
View: TypeAlias = Callable[P, ResponseReturnValue]

logger = logging.getLogger("receivers")


@overload
def verified(handler: Handler[P], /) -> View[P]: ...


@overload
def verified(
    handler: None = None,
    /,
    *,
    secret: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    clock: Callable[[], float] = time.time,
    dedupe: Deduplicator | None = None,
) -> Callable[[Handler[P]], View[P]]: ...


def verified(
    handler: Handler[P] | None = None,
    /,
    *,
    secret: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    clock: Callable[[], float] = time.time,
    dedupe: Deduplicator | None = None,
) -> View[P] | Callable[[Handler[P]], View[P]]:
    """Verify the current request before calling `handler(push, *args, **kwargs)`.

    Use bare (`@verified`) or with options (`@verified(secret=..., dedupe=Deduplicator())`). The
    secret defaults to the `DT_SIGNATURE_SECRET` environment variable, read when decorating; a
    missing or empty secret raises `ValueError` then. A push that fails verification is answered
    400 `Could not verify request.`. With `dedupe`, a push whose `eventId` was already processed
    is answered 200 `OK` without calling the handler; a handler that raises or answers non-2xx
    leaves the id unrecorded so the redelivery is processed.
    """
    verifier = resolve_verifier(secret, leeway, clock)

    def decorate(inner: Handler[P]) -> View[P]:
        @functools.wraps(inner)
        def view(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            try:
                push = verifier.verify(request.get_data(cache=True), request.headers)
            except VerificationError as error:
                logger.warning("push_rejected reason=%s detail=%s", error.reason, error.detail)
                return REJECTION_TEXT, REJECTION_STATUS
            if dedupe is None:
                return inner(push, *args, **kwargs)
            return _once(dedupe, push, lambda: inner(push, *args, **kwargs))

        return view

    return decorate if handler is None else decorate(handler)


def _once(
    dedupe: Deduplicator, push: Push, call: Callable[[], ResponseReturnValue]
) -> ResponseReturnValue:
    event_id = push.event.event_id
    if not dedupe.claim(event_id):
        logger.info("push_duplicate event_id=%s", event_id)
        return "OK", 200
    try:
        response = make_response(call())
    except BaseException:
        dedupe.release(event_id)
        raise
    if not 200 <= response.status_code < 300:
        dedupe.release(event_id)
    return response
