"""What stops the gateway at start is one line naming the setting to change, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.e2e.processes import ROOT, gateway_env

pytestmark = pytest.mark.slow


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


def test_a_busy_port_is_one_line_naming_gateway_port(database_url: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _serve(gateway_env(database_url, port=str(port)))
    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert f"127.0.0.1:{port} is already in use" in line
    assert "GATEWAY_PORT" in line
    assert "Traceback" not in done.stderr


def test_a_busy_probe_port_is_one_line_naming_gateway_probe_port(database_url: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _serve(gateway_env(database_url, port="0", probe_port=str(port)))
    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert f"127.0.0.1:{port}" in line
    assert "GATEWAY_PROBE_PORT" in line
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_line_naming_gateway_database_url() -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = f"postgresql://gateway:pw@127.0.0.1:{port}/gateway"
    done = _serve(env)
    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: cannot reach the configured database")
    assert "GATEWAY_DATABASE_URL" in line
    assert "Traceback" not in done.stderr
    assert ":pw@" not in done.stderr
