"""One middleware turns every failure into DT's error body: {"error", "code", "help"}."""

from __future__ import annotations

import asyncio

import asyncpg
import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import DATABASE_UNAVAILABLE, GatewayError

HELP_URL = "https://developer.d21s.com/docs/error-codes"

log = structlog.get_logger(__name__)



def error_body(status: int, message: str) -> dict[str, object]:
    """DT's error body: {"error", "code", "help"}."""
    return {"error": message, "code": status, "help": f"{HELP_URL}#{status}"}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = error_body(status, message)
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as error:
        retry = error.retry_after
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return error_response(error.status, error.message, headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = error.reason if error.status != 413 else "request body too large"
        status = 400 if error.status == 413 else error.status
        allow = error.headers.get("Allow")
        return error_response(status, message, {"Allow": allow} if allow is not None else None)
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
        # Two writers met on the same rows; nothing was changed, so the client may retry.
        return error_response(409, "concurrent modification, retry the request")
    except DATABASE_UNAVAILABLE as error:
        log.warning("database_unavailable", error=type(error).__name__, path=request.path)
        return error_response(503, "service unavailable, retry shortly", {"Retry-After": "2"})
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request_failed", method=request.method, path=request.path)
        return error_response(500, "internal error")
