"""/healthz and /readyz on a port of their own (`GATEWAY_PROBE_PORT`), answered by a thread.

On the main port a probe waits its turn on the event loop, behind whatever work is queued
there: under a flood of publishes that wait has passed a tenth of a second, and an
orchestrator with a short probe timeout could restart a gateway that is only busy. Here a
thread answers at once from a snapshot the event loop refreshes every `HEARTBEAT` seconds, so
a probe waits only for the operating system and, for a few microseconds, the GIL.

Liveness stays honest: a loop that has not refreshed the snapshot for `STALLED_AFTER` seconds
is stuck, and both probes say so (503), so an orchestrator still restarts a gateway whose loop
no longer turns.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from gateway.api.errors import error_body
from gateway.api.readiness import readiness_answer

HEARTBEAT = 0.25  # seconds between two refreshes of the snapshot by the event loop
STALLED_AFTER = 10.0  # seconds without a refresh after which the loop counts as stuck
READ_TIMEOUT = 5.0  # a probe's request must arrive within this


class ProbePortError(OSError):
    """The probe port cannot be listened on (busy, privileged, or not an address here)."""


@dataclass(frozen=True)
class Snapshot:
    """What the event loop last said: when, and its readiness checks."""

    beat: float  # time.monotonic()
    checks: dict[str, bool]


class ProbeServer:
    """A thread serving the probes from the snapshot; `run` keeps the snapshot fresh."""

    def __init__(
        self, host: str, port: int, readiness: Callable[[], dict[str, bool]],
        stalled_after: float = STALLED_AFTER,
    ) -> None:  # fmt: skip
        self._readiness = readiness
        self._stalled_after = stalled_after
        self.draining = False  # set at shutdown: the main port takes no more requests
        self._snapshot = Snapshot(time.monotonic(), readiness())
        try:
            self._server = ThreadingHTTPServer((host, port), _handler(self.answer))
        except OSError as error:
            raise ProbePortError(error.errno, f"{host}:{port} ({error.strerror})") from error
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="probes", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop answering (called from the event loop; returns within half a second)."""
        self._server.shutdown()
        self._server.server_close()

    async def run(self) -> None:
        """Refresh the snapshot every HEARTBEAT seconds, until cancelled."""
        while True:
            self.refresh()
            await asyncio.sleep(HEARTBEAT)

    def refresh(self) -> None:
        self._snapshot = Snapshot(time.monotonic(), self._readiness())

    def answer(self, path: str) -> tuple[int, dict[str, object]]:
        """The status and JSON body for a GET of `path` (called from the server's threads)."""
        snapshot = self._snapshot  # one read: the loop replaces it whole
        stalled = time.monotonic() - snapshot.beat
        turning = stalled <= self._stalled_after
        if path == "/healthz":
            if turning:
                return 200, {"status": "ok"}
            return 503, {"status": "stalled", "stalledSeconds": round(stalled, 1)}
        if path == "/readyz":
            checks = {**snapshot.checks, "eventLoop": turning, "accepting": not self.draining}
            return readiness_answer(checks)
        return 404, error_body(404, "only /healthz and /readyz are served here")


Answer = Callable[[str], tuple[int, dict[str, object]]]  # path -> status, JSON body


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class ProbeHandler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT

        def do_GET(self) -> None:
            status, body = answer(self.path.split("?", 1)[0])
            data = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes come every few seconds: not worth a log line each."""

    return ProbeHandler
