"""AWS Lambda behind API Gateway (REST v1 or HTTP v2 payloads) or a function URL.

@verified
def lambda_handler(push: Push, event: dict, context: object) -> dict:
    return {"statusCode": 200, "body": "OK"}
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, overload

from receivers.adapters import REJECTION_STATUS, REJECTION_TEXT
from receivers.config import resolve_verifier
from receivers.dedupe import Deduplicator
from receivers.errors import Reason, VerificationError
from receivers.push import Push
from receivers.verify import DEFAULT_LEEWAY, verify

LambdaResponse: TypeAlias = Mapping[str, Any]
Handler: TypeAlias = Callable[[Push, Any, Any], LambdaResponse]
LambdaHandler: TypeAlias = Callable[[Any, Any], LambdaResponse]

logger = logging.getLogger("receivers")


def text_response(status: int, text: str) -> dict[str, Any]:
    """An API Gateway proxy response with a plain-text body."""
    return {"statusCode": status, "headers": {"Content-Type": "text/plain"}, "body": text}


def event_body(event: object) -> bytes:
    """The raw request body of an API Gateway event, decoding `isBase64Encoded` bodies."""
    if not isinstance(event, Mapping):
        raise VerificationError(Reason.MALFORMED_BODY, "the event is not an object")
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise VerificationError(Reason.MALFORMED_BODY, "the event's body is not a string")
    try:
        if event.get("isBase64Encoded") is True:
            return base64.b64decode(body, validate=True)
        return body.encode("utf-8")
    except (binascii.Error, ValueError):
        raise VerificationError(Reason.MALFORMED_BODY, "the body cannot be decoded") from None


def event_headers(event: object) -> Mapping[str, str]:
    """The request headers of an API Gateway event (`headers` may be null in v1 events)."""
    headers = event.get("headers") if isinstance(event, Mapping) else None
    return headers if isinstance(headers, Mapping) else {}


def verify_event(
    event: Mapping[str, Any],
    secret: str,
    *,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> Push:
    """Verify the push carried by an API Gateway event; raises `VerificationError` on failure."""
    return verify(event_body(event), event_headers(event), secret, now=now, leeway=leeway)


@overload
def verified(handler: Handler, /) -> LambdaHandler: ...


@overload
def verified(
    handler: None = None,
    /,
    *,
    secret: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    clock: Callable[[], float] = time.time,
    dedupe: Deduplicator | None = None,
) -> Callable[[Handler], LambdaHandler]: ...


def verified(
    handler: Handler | None = None,
    /,
    *,
    secret: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    clock: Callable[[], float] = time.time,
    dedupe: Deduplicator | None = None,
) -> LambdaHandler | Callable[[Handler], LambdaHandler]:
    """Turn `handler(push, event, context)` into a Lambda handler that verifies the event first.

    The secret defaults to `DT_SIGNATURE_SECRET` (`ValueError` at decoration when empty); a
    failure answers 400 `Could not verify request.`; `dedupe` answers already processed event
    ids with 200 `OK`. The handler returns an API Gateway proxy response (`statusCode`, `body`).
    """
    verifier = resolve_verifier(secret, leeway, clock)

    def decorate(inner: Handler) -> LambdaHandler:
        @functools.wraps(inner)
        def lambda_handler(event: Any, context: Any) -> LambdaResponse:
            try:
                push = verifier.verify(event_body(event), event_headers(event))
            except VerificationError as error:
                logger.warning("push_rejected reason=%s detail=%s", error.reason, error.detail)
                return text_response(REJECTION_STATUS, REJECTION_TEXT)
            if dedupe is None:
                return inner(push, event, context)
            return _once(dedupe, push, functools.partial(inner, push, event, context))

        return lambda_handler

    return decorate if handler is None else decorate(handler)


def _once(dedupe: Deduplicator, push: Push, call: Callable[[], LambdaResponse]) -> LambdaResponse:
    event_id = push.event.event_id
    if not dedupe.claim(event_id):
        logger.info("push_duplicate event_id=%s", event_id)
        return text_response(200, "OK")
    try:
        response = call()
    except BaseException:
        dedupe.release(event_id)
        raise
    status = response.get("statusCode", 200)
    if not isinstance(status, int) or not 200 <= status < 300:
        dedupe.release(event_id)
    return response
