"""A newcomer's first hour, from a fresh clone, with nothing but the README's commands as written
(taken from the READMEs, so this fails when they drift): the demo twice (each run leaves nothing
behind), the gateway allowing local targets, both receiver examples, `listen`, the curl block and
the SDK example; every push verified where it lands.

To spare the network, the clone's virtual environments see the packages this test environment
already has, except those the README's commands must install themselves: the gateway, the
receivers library, and the example servers whose commands the READMEs run."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.first_hour import (
    Background,
    block,
    exclusive,
    fresh_shell_env,
    prepare_venv,
    run,
    shared_site,
    short_tmp,
)
from tests.e2e.processes import ROOT, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
OURS = {"data-connector-gateway", "data-connector-receivers"}
EXAMPLE_SERVERS = {"gunicorn", "honcho", "functions-framework"}
EXAMPLES = {"heroku": 5000, "cloud_function": 5001}


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _answers(port: int, server: Background) -> bool:
    assert server.process.poll() is None, server.text()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _json_values(text: str) -> list[Any]:
    """The JSON values curl printed one after another (its answers end without a newline)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def _start_example(
    clone: Path, name: str, shared: Path, env: dict[str, str], logs: Path
) -> Background:
    example = clone / "receivers" / "examples" / name
    prepare_venv(example, shared, env)
    script = block(example / "README.md", "sh", "python3 -m venv .venv")
    return Background.start(script, example, env, logs / f"{name}.log")


def test_the_first_hour_from_a_fresh_clone(tmp_path: Path) -> None:
    with exclusive("data-connector-gateway-first-hour.lock"), short_tmp() as tmp:
        for port in EXAMPLES.values():
            assert not _port_taken(port), f"port {port}, which a README example uses, is taken"
        _first_hour(tmp_path, tmp)


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _first_hour(logs: Path, short: Path) -> None:
    # Everything the embedded PostgreSQL touches (as root it runs as the user `pgserver`) lives
    # under `short`: pytest keeps its own temporary root private to the user running it.
    clone, tmp = short / "clone", short / "tmp"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = fresh_shell_env(short / "home", tmp)
    env["GATEWAY_PORT"] = str(free_port())  # the README's commands honour it; 8080 may be taken
    readme = clone / "README.md"
    examples_site = shared_site(short / "shared-examples", OURS | EXAMPLE_SERVERS)
    prepare_venv(clone, shared_site(short / "shared-root", OURS), env)
    servers = [_start_example(clone, name, examples_site, env, logs) for name in EXAMPLES]
    try:
        _demo_twice(clone, readme, env, tmp)
        gateway = Background.start(
            block(readme, "sh", "gateway serve"), clone, env, logs / "serve.log"
        )
        servers.append(gateway)
        wait_for(
            lambda: _ready(f"http://127.0.0.1:{env['GATEWAY_PORT']}/readyz"), 60, "the gateway"
        )
        for port, server in zip(EXAMPLES.values(), servers, strict=False):
            wait_for(lambda: _answers(port, server), 240, f"the receiver example on port {port}")  # noqa: B023
        _api_and_listen(clone, readme, env, logs, servers)
        assert "pg_ctl" not in gateway.text()  # the embedded server's narration is debug output
    finally:
        for server in servers:
            server.stop()


def _demo_twice(clone: Path, readme: Path, env: dict[str, str], tmp: Path) -> None:
    command = next(
        line for line in block(readme, "sh", "--duration").splitlines() if "demo" in line
    )
    for _ in range(2):
        shown = run(command, clone, env)
        assert "refuses 1 push in 200 on purpose" in shown
        assert "Sign in:   key id" in shown
        assert "Summary:" in shown and "failed verification 0" in shown
        assert not list(tmp.glob("gateway-demo-*"))  # its throwaway directory is gone


def _api_and_listen(
    clone: Path, readme: Path, env: dict[str, str], tmp: Path, servers: list[Background]
) -> None:
    state = tmp / "state.sh"
    admin = block(readme, "sh", "admin create-project")
    run(
        admin + f"declare -p PROJECT KEY_ID SECRET EMAIL > {state}; declare -f field >> {state}\n",
        clone,
        env,
    )
    session = f"source {state}\n"
    listen = Background.start(
        session + block(readme, "sh", "gateway listen"), clone, env, tmp / "listen.log"
    )
    servers.append(listen)
    listen.wait_for_output("Ready", 60)

    shown = run(session + block(readme, "sh", "API=http://127.0.0.1"), clone, env)
    published, metrics = _json_values(shown)
    assert published["eventId"] == "first-reading"
    assert set(metrics["metrics"]) == {"successCount", "errorCount", "latency99p"}

    (clone / "sdk_example.py").write_text(block(readme, "python", "import disruptive"))
    shown = run(session + block(readme, "sh", "sdk_example.py"), clone, env)
    assert "success_count" in shown.lower() or "successcount" in shown.lower(), shown

    heroku, cloud_function = servers[0], servers[1]
    heroku.wait_for_output("received temperature event first-reading", 30)
    cloud_function.wait_for_output("received temperature event", 30)
    wait_for(lambda: listen.text().count("verified HS256") >= 2, 30, "two pushes at listen")
    assert "[name=fridge]" in listen.text()
    assert "NOT VERIFIED" not in listen.text()
    assert listen.interrupt() == 0
    assert "deleted the temporary connector" in listen.text()
    _only_the_readme_connectors_remain(env, state, clone)


def _only_the_readme_connectors_remain(env: dict[str, str], state: Path, clone: Path) -> None:
    listing = run(
        f'source {state}\ncurl -sf -u "$KEY_ID:$SECRET" '
        f"http://127.0.0.1:{env['GATEWAY_PORT']}/v2/projects/$PROJECT/dataconnectors\n",
        clone, env,
    )  # fmt: skip
    names = sorted(c["displayName"] for c in orjson.loads(listing)["dataConnectors"])
    assert names == ["function", "hook"]
