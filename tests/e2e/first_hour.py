"""Helpers for the first-hour test: README blocks as written, a fresh clone, its virtual
environments, and the processes the README starts."""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import re
import shutil
import signal
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tests.e2e.processes import wait_for

# A fenced block, indented or not (blocks inside list items are indented).
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w+)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def blocks(readme: Path, lang: str) -> list[str]:
    """The `lang` code blocks of a README, dedented, in order."""
    found = []
    for match in _FENCE.finditer(readme.read_text()):
        if match["lang"] == lang:
            indent = len(match["indent"])
            found.append("".join(line[indent:] for line in match["body"].splitlines(True)))
    return found


def block(readme: Path, lang: str, containing: str) -> str:
    """The one `lang` block of `readme` that contains `containing`."""
    [found] = [text for text in blocks(readme, lang) if containing in text]
    return found


def shared_site(directory: Path, installed_by_readme: set[str]) -> Path:
    """This test environment's packages as a plain directory of links, minus the distributions
    the README's own commands must install (and every .pth file, so no editable install of the
    working tree leaks in). A venv that lists it in a .pth file finds the rest already there."""
    site = Path(sysconfig.get_paths()["purelib"])
    left_out: set[str] = set()
    for distribution in metadata.distributions(path=[str(site)]):
        if distribution.metadata["Name"].lower() in installed_by_readme:
            left_out.update(Path(str(file)).parts[0] for file in distribution.files or [])
    directory.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name not in left_out and entry.suffix != ".pth":
            (directory / entry.name).symlink_to(entry)
    return directory


def prepare_venv(where: Path, shared: Path, env: dict[str, str]) -> None:
    """A virtual environment at `where/.venv` that also sees `shared`, made before the README's
    commands, which keep what they find (and install pip into it when they need it)."""
    subprocess.run(
        ["python3", "-m", "venv", "--without-pip", ".venv"], cwd=where, env=env, check=True
    )
    purelib = subprocess.run(
        [".venv/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=where, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_first_hour_shared.pth").write_text(f"{shared}\n")


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    """One holder at a time on this machine (test runs of several checkouts included): the
    READMEs' receivers listen on fixed ports."""
    with open(Path(tempfile.gettempdir()) / name, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path: PostgreSQL's socket path must stay under 108
    bytes, and pgserver falls back to one under TMPDIR when the data directory's is too long."""
    directory = Path(tempfile.mkdtemp(prefix="gw-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def fresh_shell_env(home: Path, tmp: Path) -> dict[str, str]:
    """A newcomer's environment: no GATEWAY_* settings, no active virtual environment, an empty
    home (pip's cache kept, to spare the network)."""
    test_bin = str(Path(sysconfig.get_paths()["scripts"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DT_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != test_bin)
    env["PIP_CACHE_DIR"] = env.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(HOME=str(home), TMPDIR=str(tmp))
    # Where pyenv provides python3, the one of this test (an example's .python-version names
    # the version Heroku should use), so the venvs can share this test's packages.
    env["PYENV_VERSION"] = platform.python_version()
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    return env


def run(script: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    """Run a README block in bash as a user would paste it; its output, or the failure."""
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"{script}\nexited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@dataclass
class Background:
    """A long-running README command (a server, `listen`) and its output file."""

    process: subprocess.Popen[bytes]
    output: Path

    @classmethod
    def start(cls, script: str, cwd: Path, env: dict[str, str], output: Path) -> Background:
        with output.open("wb") as sink:
            process = subprocess.Popen(
                ["bash", "-c", script], cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return cls(process, output)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float) -> None:
        def shown() -> bool:
            assert self.process.poll() is None or needle in self.text(), self.text()
            return needle in self.text()

        wait_for(shown, timeout, f"{needle!r} in {self.output.name}")

    def interrupt(self) -> int:
        """Ctrl-C, as in a terminal: to the whole process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
