"""A PostgreSQL cluster of a test's own, which the test may stop and start at will.

The shared test server must never be restarted, so fault tests that take the database away
create their own cluster with the PostgreSQL binaries of the machine (or pgserver's), on a free
port, in a temporary directory. PostgreSQL refuses to run as root: as root, the cluster belongs
to the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pytest

from tests.e2e.processes import free_port

SERVER_USER = "postgres"


def binaries() -> Path | None:
    """A directory holding initdb and pg_ctl: the newest system PostgreSQL, else pgserver's."""
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if _has_tools(Path(directory)):
            return Path(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver warns at import about XDG_RUNTIME_DIR
        try:
            import pgserver
        except ImportError:
            return None
    bundled = Path(pgserver.POSTGRES_BIN_PATH)  # type: ignore[attr-defined]
    return bundled if _has_tools(bundled) else None


def _has_tools(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in ("initdb", "pg_ctl"))


class PrivatePostgres:
    """An initialised cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
        self._bin = bin_dir
        self._user = _server_user()
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="gateway-fault-pg-"))
        self.data = self.directory / "data"
        if self._user is not None:
            account = pwd.getpwnam(self._user)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(self.directory / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "30",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` rolls back and disconnects clients, `immediate` crashes."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        status = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "status"),
            capture_output=True,
            user=self._user,
        )
        if status.returncode == 0:
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def logs(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _command(self, name: str, *arguments: str) -> list[str]:
        return [str(self._bin / name), *arguments]

    def _run(self, name: str, *arguments: str) -> None:
        subprocess.run(
            self._command(name, *arguments),
            check=True,
            capture_output=True,
            timeout=60,
            user=self._user,
            cwd=self.directory,
        )


def _server_user() -> str | None:
    """The user the server runs as when this process is root; None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.skip(f"running as root, and there is no {SERVER_USER!r} user to run PostgreSQL")
    return SERVER_USER
