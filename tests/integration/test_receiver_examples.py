"""The gateway's real pushes reach the deployable receiver examples, each under its real server:
the Cloud Function under `functions-framework`, the Heroku app under `honcho` + gunicorn."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.push.asymmetric import DISCOVERY_PATH
from tests.harness import Gateway
from tests.e2e.processes import free_port, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "receivers" / "examples"
SECRET = "example-receiver-secret-0123456789abcdef"
BIN = Path(sys.executable).parent
COMMANDS = {
    "cloud_function": lambda port: [
        str(BIN / "functions-framework"), "--target", "dataconnector_endpoint",
        "--source", "main.py", "--host", "127.0.0.1", "--port", str(port),
    ],
    "heroku": lambda port: [str(BIN / "honcho"), "start"],
}  # fmt: skip


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _running(process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the server exited: {log.read_text(errors='replace')}")
    return True


@contextlib.contextmanager
def _example(name: str, setting: dict[str, str], log: Path) -> Iterator[str]:
    """The example `name` under its real server, configured by `setting`; yields its URL."""
    port = free_port()
    env = {**os.environ, **setting, "PORT": str(port),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            COMMANDS[name](port), cwd=EXAMPLES / name, env=env,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: _running(process, log) and _answers(port), 30, f"{name} up")
        yield f"http://127.0.0.1:{port}/"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


@pytest.fixture(params=sorted(COMMANDS), scope="module")
def example_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A receiver example running under its real server; yields its URL."""
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    with _example(request.param, {"DT_SIGNATURE_SECRET": SECRET}, log) as url:
        yield url


@pytest.mark.parametrize("name", sorted(COMMANDS))
async def test_the_examples_verify_the_asymmetric_signature_without_a_secret(
    gateway: Gateway, name: str, tmp_path: Path
) -> None:
    discovery = str(gateway.client.make_url(DISCOVERY_PATH))
    env = {"DT_DISCOVERY_URL": discovery}
    with _example(name, env, tmp_path / "server.log") as url:
        account = await gateway.project()
        created = await gateway.connector(account, url)  # no signatureSecret at all
        device = await gateway.device(account, "touch", name="door")
        for _ in range(3):
            await gateway.publish(account, device, {"touch": {}})
        assert await gateway.deliver() == 3
        metrics = (await gateway.call("GET", f"/v2/{created['name']}:metrics", account))
    assert (metrics["metrics"]["successCount"], metrics["metrics"]["errorCount"]) == (3, 0)


async def test_gateway_pushes_are_accepted_and_bad_ones_refused(
    gateway: Gateway, example_url: str
) -> None:
    account = await gateway.project()
    good = await gateway.connector(account, example_url, http={"signatureSecret": SECRET})
    wrong = await gateway.connector(account, example_url, http={"signatureSecret": "x" * 40})
    unsigned = await gateway.connector(account, example_url)
    device = await gateway.device(account, "touch", name="door")
    for _ in range(3):
        await gateway.publish(account, device, {"touch": {}})

    assert await gateway.deliver() == 9

    metrics = {}
    for name, connector in {"good": good, "wrong": wrong, "unsigned": unsigned}.items():
        path = f"/v2/{connector['name']}:metrics"
        metrics[name] = (await gateway.call("GET", path, account))["metrics"]
    assert (metrics["good"]["successCount"], metrics["good"]["errorCount"]) == (3, 0)
    # A failed push makes the rest of that connector's queue wait for its retry.
    assert metrics["wrong"]["successCount"] == 0 and metrics["wrong"]["errorCount"] >= 1
    assert metrics["unsigned"]["successCount"] == 0 and metrics["unsigned"]["errorCount"] >= 1
