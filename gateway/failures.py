"""One line instead of a traceback for what stops the gateway at start: a busy port, a database
that cannot be reached. Each line names the setting to change."""

from __future__ import annotations

import errno
import socket

import asyncpg

from gateway.api.probe_server import ProbePortError
from gateway.config import Settings

# What connecting to PostgreSQL raises when the server is not there or refuses us.
_DATABASE_ERRORS = (
    ConnectionError, socket.gaierror, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
)  # fmt: skip


def explain(error: BaseException, settings: Settings) -> str | None:
    """The one-line message for `error`, or None when it is not a known start-up failure."""
    if isinstance(error, ProbePortError):
        return (
            f"cannot listen on {error.strerror}: set GATEWAY_PROBE_PORT to a free port, "
            "or unset it"
        )
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return (
            f"{settings.host}:{settings.port} is already in use (another gateway or demo?): stop "
            "it, or set GATEWAY_PORT to another port (0 = any free port)"
        )
    if isinstance(error, OSError) and error.errno == errno.EACCES and error.filename is None:
        return f"may not listen on port {settings.port}: set GATEWAY_PORT to 1024 or above"
    if isinstance(error, OSError) and error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {settings.host}: set GATEWAY_HOST to an address of this machine"
    if isinstance(error, _DATABASE_ERRORS):
        where = "the configured database" if settings.database_url else "the embedded database"
        reason = str(error) or type(error).__name__
        return (
            f"cannot reach {where} ({reason}): check GATEWAY_DATABASE_URL "
            "(unset, the gateway starts an embedded PostgreSQL)"
        )
    return None
