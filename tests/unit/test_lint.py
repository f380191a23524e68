"""The code passes the project's own strict tooling: ruff and mypy --strict."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str, cwd: Path = ROOT) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff() -> None:
    run(sys.executable, "-m", "ruff", "check", "gateway", "receivers/receivers")


def test_mypy_strict_gateway() -> None:
    run(sys.executable, "-m", "mypy", "gateway")


def test_mypy_strict_receivers() -> None:
    run(sys.executable, "-m", "mypy", "receivers", cwd=ROOT / "receivers")
