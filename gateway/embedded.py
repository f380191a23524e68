"""The embedded default PostgreSQL: used when no database URL is configured.

It is the `pgserver` package's PostgreSQL build, which ships in its wheel, so a fresh machine
needs nothing installed. Running as root, pgserver runs the server as a system user `pgserver`.
Several gateway processes on one data directory share one server; the last one stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import structlog

from gateway.config import Settings

log = structlog.get_logger(__name__)


class _DebugOnly(logging.Filter):
    """pgserver narrates every start at info level (full pg_ctl command lines): keep that for
    debugging, and its warnings and errors as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= logging.getLogger().getEffectiveLevel()


@contextlib.contextmanager
def _runtime_dir_unset_quietly() -> Iterator[None]:
    """Without XDG_RUNTIME_DIR (root, containers) platformdirs warns as pgserver picks its socket
    directory, and then uses /tmp, which is what we want."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        yield


def _quiet_pgserver() -> None:
    pgserver_log = logging.getLogger("pgserver")
    if not any(isinstance(known, _DebugOnly) for known in pgserver_log.filters):
        pgserver_log.addFilter(_DebugOnly())


class EmbeddedPostgres:
    """A private PostgreSQL server in `data_dir`, started on creation."""

    def __init__(self, data_dir: Path) -> None:
        _quiet_pgserver()
        data_dir.mkdir(parents=True, exist_ok=True)
        with _runtime_dir_unset_quietly():
            from pgserver import get_server  # type: ignore[attr-defined]  # (not re-exported)

            self._server = get_server(data_dir, cleanup_mode="stop")
        self.url: str = self._server.get_uri()
        log.info("embedded_postgres_started", data_dir=str(data_dir))

    def stop(self) -> None:
        with _runtime_dir_unset_quietly():
            self._server.cleanup()


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or the embedded server's."""
    if settings.database_url:
        yield settings
        return
    server = EmbeddedPostgres(settings.data_dir)
    try:
        yield _with_url(settings, server.url)
    finally:
        server.stop()


def _with_url(settings: Settings, url: str) -> Settings:
    return replace(settings, database_url=url)


def use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
