"""Helpers shared by the receiver tests: push bodies, tokens, and real server processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

# Long enough that PyJWT's encoder (used by the gateway's signer) does not warn about key length.
SECRET = "receivers-test-secret-0123456789abcdef"
OTHER_SECRET = "another-secret-of-sufficient-size-0123456789"
NOW = 1_700_000_000
PROJECT = "c14u9p094l47cdv1o3pg"
DEVICE = "emuc17m6d7lq0bgk44smcqg"

REPO_ROOT = Path(__file__).resolve().parents[2]
DIST_ROOT = REPO_ROOT / "receivers"
EXAMPLES = DIST_ROOT / "examples"
VENV_BIN = Path(sys.executable).parent


def push_document(
    event_type: str = "touch",
    data: Mapping[str, Any] | None = None,
    *,
    event_id: str = "c82gg9catj3vmh4248og",
    labels: Mapping[str, str] | None = None,
    timestamp: str = "2022-02-10T12:42:13.313949Z",
) -> dict[str, Any]:
    """A push as the gateway builds it, keys in wire order."""
    if data is None:
        data = {event_type: {"updateTime": timestamp}}
    return {
        "event": {
            "eventId": event_id,
            "targetName": f"projects/{PROJECT}/devices/{DEVICE}",
            "eventType": event_type,
            "data": dict(data),
            "timestamp": timestamp,
        },
        "labels": {"name": event_type} if labels is None else dict(labels),
        "metadata": {
            "deviceId": DEVICE,
            "projectId": PROJECT,
            "deviceType": event_type,
            "productNumber": "",
        },
    }


def compact(document: Any) -> bytes:
    """Compact JSON bytes, as sent on the wire."""
    return json.dumps(document, separators=(",", ":")).encode()


def push_body(event_type: str = "touch", **kwargs: Any) -> bytes:
    """The body bytes of a push."""
    return compact(push_document(event_type, **kwargs))


def dt_claims(body: bytes, iat: int = NOW, *, sha1_only: bool = False) -> dict[str, Any]:
    """The claims DT puts in `X-Dt-Signature` for `body`."""
    claims: dict[str, Any] = {"checksum": hashlib.sha1(body).hexdigest()}
    if not sha1_only:
        claims["checksum_sha256"] = hashlib.sha256(body).hexdigest()
    return {**claims, "exp": iat + 3600, "iat": iat, "jti": "c82gg99hga35jc2afkeg"}


def dt_token(claims: Mapping[str, Any], secret: str = SECRET) -> str:
    """A token made the way DT's recipe does it: PyJWT, HS256, any secret length."""
    with warnings.catch_warnings():
        # Recent PyJWT warns when encoding with a short key; DT's secrets may be short.
        warnings.simplefilter("ignore")
        return jwt.encode(dict(claims), secret, algorithm="HS256", headers={"typ": "JWT"})


def b64url(data: bytes) -> str:
    """Unpadded base64url, as in a compact JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: bytes, payload: bytes, secret: str = SECRET) -> str:
    """A compact JWT over arbitrary header and payload bytes, HMAC-SHA256-signed with `secret`."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def post(port: int, body: bytes, headers: Mapping[str, str], path: str = "/") -> tuple[int, str]:
    """POST `body` over plain HTTP to the loopback server; returns status and text."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _children(pid: int) -> list[int]:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc)."""
    pending, seen = _children(pid), []
    while pending:
        child = pending.pop()
        seen.append(child)
        pending += _children(child)
    return seen


def is_alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _groups(pids: list[int]) -> set[int]:
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    return groups


def _signal_groups(groups: set[int], signum: signal.Signals) -> None:
    for group in groups:
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            continue


@dataclass
class Server:
    """A server process started in its own session, so its whole process tree can be stopped."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    pids: list[int] = field(default_factory=list)

    def output(self) -> str:
        """What the process has printed so far."""
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll until the server answers HTTP, failing early if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            if self._answers():
                self.pids = [self.process.pid, *descendants(self.process.pid)]
                return
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.output()}")

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
        except OSError:
            return False
        finally:
            connection.close()
        return True

    def stop(self) -> list[int]:
        """SIGTERM every process group in the tree, SIGKILL what is left; returns the pids."""
        pids = sorted({*self.pids, self.process.pid, *descendants(self.process.pid)})
        groups = _groups([pid for pid in pids if is_alive(pid)])
        _signal_groups(groups, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _signal_groups(groups, signal.SIGKILL)
            self.process.wait(timeout=15)
        _signal_groups(_groups([pid for pid in pids if is_alive(pid)]), signal.SIGKILL)
        return pids


def start_server(command: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> Server:
    """Start `command` in a new session with output to `log`; call `wait_ready` next."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process=process, port=int(env["PORT"]), log=log)


def server_env(port: int, secret: str = SECRET) -> dict[str, str]:
    """The environment the example servers run with: the secret, the port, the library on path."""
    return {
        **os.environ,
        "DT_SIGNATURE_SECRET": secret,
        "PORT": str(port),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(DIST_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
