"""The demo as a process: it says what it does, keeps its credentials in a 0600 file, and leaves
nothing behind, so a second run starts with no connector or queued delivery from the first."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import asyncpg
import orjson
import pytest

from tests.e2e.first_hour import short_tmp
from tests.e2e.processes import ROOT, free_port, gateway_env, stop_process, wait_for

pytestmark = pytest.mark.slow
LEFT_OVER = ("projects", "accounts", "account_keys", "connectors", "devices", "deliveries", "events")


def _demo(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "demo", *arguments], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=90, check=True,
    )  # fmt: skip


async def _rows(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        return {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}") for table in LEFT_OVER
        }
    finally:
        await connection.close()


async def test_two_demos_in_a_row_on_a_configured_database(database_url: str) -> None:
    env = gateway_env(database_url, port=str(free_port()))
    nothing = dict.fromkeys(LEFT_OVER, 0)
    for _ in range(2):
        assert await _rows(database_url) == nothing  # nothing from the run before
        done = _demo(env, "--duration", "2", "--rate", "50")
        assert "refuses 1 push in 200 on purpose" in done.stdout
        assert "Columns: seconds since start" in done.stdout
        assert "Summary:" in done.stdout
        assert "Deleted the demo's project" in done.stdout
        assert "Traceback" not in done.stderr
    assert await _rows(database_url) == nothing


def test_the_embedded_demo_runs_in_a_throwaway_directory() -> None:
    with short_tmp() as tmp_path:
        _embedded_demo(tmp_path)


def _embedded_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(TMPDIR=str(tmp_path), GATEWAY_PORT=str(free_port()))
    output = tmp_path / "demo.out"
    with output.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--duration", "3"], cwd=ROOT, env=env,
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: list(tmp_path.glob("gateway-demo-*/credentials.json")), 60, "credentials")
        [credentials] = tmp_path.glob("gateway-demo-*/credentials.json")
        wait_for(lambda: credentials.stat().st_size > 0, 10, "the credentials to be written")
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        found = orjson.loads(credentials.read_bytes())
        assert demo.wait(60) == 0
    finally:
        stop_process(demo)  # type: ignore[arg-type]
    shown = output.read_text()
    assert f"key id {found['keyId']}  secret {found['secret']}" in shown
    assert str(credentials) in shown
    assert "Summary:" in shown
    assert "pg_ctl" not in shown and "Traceback" not in shown  # pgserver's narration is debug
    assert not list(tmp_path.glob("gateway-demo-*"))  # the throwaway directory is gone
