"""Real processes for acceptance tests: the gateway as `python -m gateway serve`, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class GatewayProcess:
    """One `python -m gateway serve` process and where its logs go."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 30.0) -> GatewayProcess:
        env = {**self.env, "GATEWAY_PORT": str(self.port), "GATEWAY_LOG_FORMAT": "json"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.ready, ready_timeout, f"the gateway on port {self.port} to be ready")
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gateway exited with {self.process.returncode}: {self.logs()}")
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def gateway_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a gateway process: this one's, minus GATEWAY_*, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = database_url
    env["GATEWAY_ALLOW_INSECURE_TARGETS"] = "true"
    env["GATEWAY_SECRET_KEY"] = TEST_SECRET_KEY  # no key file in the home directory
    env.update({f"GATEWAY_{key.upper()}": value for key, value in settings.items()})
    return env


def admin(env: Mapping[str, str], *arguments: str) -> dict[str, str]:
    """Run `python -m gateway admin ...` and return its JSON answer."""
    import orjson

    done = subprocess.run(
        [sys.executable, "-m", "gateway", "admin", *arguments],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return orjson.loads(done.stdout)  # type: ignore[no-any-return]
