"""`serve` raises its soft limit on open files to the hard limit, and says so in its log."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import ROOT, GatewayProcess, gateway_env, stop_process, wait_for

pytestmark = pytest.mark.slow
LOW = 256


def _lower_soft_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW, hard))


def _soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open files limit listed")


def test_serve_raises_the_soft_open_files_limit(database_url: str, tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= LOW:
        pytest.fail(f"this test needs a finite hard limit above {LOW}, found {hard}")
    gateway = GatewayProcess(gateway_env(database_url), tmp_path / "gateway.log")
    env = {**gateway.env, "GATEWAY_PORT": str(gateway.port), "GATEWAY_LOG_FORMAT": "json"}
    with gateway.log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_lower_soft_limit,
        )
    gateway.process = process
    try:
        wait_for(gateway.ready, 30, "the gateway to be ready")
        assert _soft_limit(process.pid) == hard
    finally:
        stop_process(process)
    events = [json.loads(line) for line in gateway.logs().splitlines() if line.startswith("{")]
    [raised] = [event for event in events if event.get("event") == "open_files_limit"]
    assert raised["soft_before"] == LOW and raised["soft"] == hard
