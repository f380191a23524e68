"""The gateway's errors. Each carries the HTTP status the API answers it with.

One tree: a leaf may also inherit the built-in it stands for (`InvalidEventData` is a
`ValueError` too), as aiohttp's client errors do.
"""

from __future__ import annotations

import asyncpg


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    status = 500
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(GatewayError):
    status = 400


class Unauthorized(GatewayError):
    status = 401


class Forbidden(GatewayError):
    status = 403


class NotFound(GatewayError):
    status = 404


class Conflict(GatewayError):
    status = 409


class RequestTimeout(GatewayError):
    """The client sent its request body too slowly."""

    status = 408


class TooManyRequests(GatewayError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(GatewayError):
    """More work in progress than the gateway admits; the client should retry shortly."""

    status = 503
    retry_after = 1


class PayloadTooLarge(GatewayError):
    # DT answers oversized input as bad input; the SDK knows no 413.
    status = 400


class Unavailable(GatewayError):
    """The database cannot be reached; the client should retry shortly."""

    status = 503
    retry_after = 2


# What an unreachable, restarting or overloaded database raises: the request or the loop may
# try again shortly. Every loop (dispatcher, recorder, listener, maintenance) and the API's
# middleware use this one definition.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutting down, starting up, terminated by an admin
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # asyncpg's state after the server ended an idle connection
    ConnectionError,
    OSError,
    TimeoutError,
)
# What a background loop outlives: the database unreachable, or one of its statements failing.
DATABASE_FAILED: tuple[type[BaseException], ...] = (*DATABASE_UNAVAILABLE, asyncpg.PostgresError)
