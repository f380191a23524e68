"""The benchmark's processes and databases: started here, every one stopped on exit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parents[1]
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Processes:
    """Every child process of the benchmark, so that all of them can be stopped at once."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: list[subprocess.Popen[bytes]] = []
        self._by_name: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(
        self, name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            child = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the children
            )
        self._children.append(child)
        self._by_name[name] = child
        return child

    def pid_of(self, name: str) -> int:
        return self._by_name[name].pid

    def stop(self, child: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`."""
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        with contextlib.suppress(ValueError):
            self._children.remove(child)

    def stop_all(self) -> None:
        for child in list(self._children):
            self.stop(child, timeout=5)


def wait_until_ready(child: subprocess.Popen[bytes], url: str, timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"{name} exited with {child.returncode}; see its log")
        if http_ok(url):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} not ready at {url} after {timeout} s")


@dataclass
class Gateway:
    """One `python -m gateway serve` process."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident memory (VmRSS) in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line")


SECRET_KEY = "YmVuY2gtc2VhbHMtaXRzLXNlY3JldHMtd2l0aC1pdCE="  # base64 of 32 bytes


def gateway_env(database_url: str, source: Path, **settings: str) -> dict[str, str]:
    """This environment minus GATEWAY_*, plus the benchmark's gateway settings; the gateway's
    code is imported from `source` (a checkout's root)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env.update(
        {
            "PYTHONPATH": str(source),
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_ALLOW_INSECURE_TARGETS": "true",
            "GATEWAY_LOG_LEVEL": "warning",
            "GATEWAY_LOG_FORMAT": "json",
            # Known here, so that connectors inserted by SQL can be sealed under it (rig.py).
            "GATEWAY_SECRET_KEY": SECRET_KEY,
            # The isolation step adds a hanging and a failing connector to the 100 of fan-out.
            "GATEWAY_MAX_CONNECTORS": "200",
        }
    )
    env.update({f"GATEWAY_{key.upper()}": value for key, value in settings.items()})
    return env


def start_gateway(
    processes: Processes, name: str, database_url: str, source: Path, **settings: str
) -> Gateway:
    port = free_port()
    env = gateway_env(database_url, source, port=str(port), **settings)
    child = processes.spawn(name, [sys.executable, "-m", "gateway", "serve"], env, source)
    gateway = Gateway(child, port)
    wait_until_ready(child, gateway.url + "/readyz", 60, name)
    return gateway


def start_receiver(processes: Processes, secret: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [
        sys.executable,
        str(ROOT / "bench" / "receiver.py"),
        "--port",
        str(port),
        "--secret",
        secret,
    ]
    child = processes.spawn("receiver", args, dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(child, url + "/stats", 30, "receiver")
    return child, url


def admin(database_url: str, source: Path, *arguments: str) -> dict[str, str]:
    """`python -m gateway admin ...`, returning its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "admin", *arguments],
        cwd=source,
        env=gateway_env(database_url, source),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return orjson.loads(done.stdout)  # type: ignore[no-any-return]


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _answers(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a maintenance database: the local PostgreSQL, else an embedded one."""
    import asyncio

    if asyncio.run(_answers(LOCAL_POSTGRES)):
        yield LOCAL_POSTGRES
        return
    from gateway.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="bench-pg-") as data_dir:
        server = EmbeddedPostgres(Path(data_dir))
        try:
            yield server.url
        finally:
            server.stop()


async def create_database(server_url: str, name: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
