"""The embedded default PostgreSQL: used when no database URL is configured.

It is the `pgserver` package's PostgreSQL build, which ships in its wheel, so a fresh machine
needs nothing installed. Running as root, pgserver runs the server as a system user `pgserver`.
Several gateway processes on one data directory share one server; the last one stops it.
"""

from __future__ import annotations

from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class EmbeddedPostgres:
    """A private PostgreSQL server in `data_dir`, started on creation."""

    def __init__(self, data_dir: Path) -> None:
        from pgserver import get_server  # type: ignore[attr-defined]  # (not re-exported)

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = get_server(data_dir, cleanup_mode="stop")
        self.url: str = self._server.get_uri()
        log.info("embedded_postgres_started", data_dir=str(data_dir))

    def stop(self) -> None:
        self._server.cleanup()
