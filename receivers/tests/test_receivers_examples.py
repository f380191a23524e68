"""The deployable examples under their real servers: functions-framework, honcho + gunicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway.push.signing import sign_body
from receivers_testkit import (
    EXAMPLES,
    OTHER_SECRET,
    SECRET,
    VENV_BIN,
    Server,
    free_port,
    is_alive,
    post,
    push_body,
    server_env,
    start_server,
)

pytestmark = pytest.mark.slow

CLOUD_FUNCTION = EXAMPLES / "cloud_function"
HEROKU = EXAMPLES / "heroku"


def start_cloud_function(log_dir: Path) -> Server:
    port = free_port()
    command = [
        str(VENV_BIN / "functions-framework"),
        "--target", "dataconnector_endpoint",
        "--source", str(CLOUD_FUNCTION / "main.py"),
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    server = start_server(command, CLOUD_FUNCTION, server_env(port), log_dir / "function.log")
    server.wait_ready()
    return server


def start_heroku(log_dir: Path) -> Server:
    port = free_port()
    command = [str(VENV_BIN / "honcho"), "start"]
    server = start_server(command, HEROKU, server_env(port), log_dir / "heroku.log")
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def cloud_function(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_cloud_function(tmp_path_factory.mktemp("cloud_function"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def heroku(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_heroku(tmp_path_factory.mktemp("heroku"))
    yield server
    server.stop()


@pytest.fixture(params=["cloud_function", "heroku"])
def server(request: pytest.FixtureRequest) -> Server:
    running: Server = request.getfixturevalue(request.param)
    return running


def test_a_signed_push_is_answered_200_ok(server: Server) -> None:
    body = push_body("temperature", data={"temperature": {"value": 21.5, "updateTime": "x"}})

    status, text = post(server.port, body, {"X-Dt-Signature": sign_body(body, SECRET)})

    assert (status, text) == (200, "OK")


def test_the_header_is_found_in_lower_case(server: Server) -> None:
    body = push_body()

    assert post(server.port, body, {"x-dt-signature": sign_body(body, SECRET)})[0] == 200


def test_a_tampered_body_is_answered_400(server: Server) -> None:
    body = push_body()
    token = sign_body(body, SECRET)

    status, text = post(server.port, body.replace(b"touch", b"tauch"), {"X-Dt-Signature": token})

    assert (status, text) == (400, "Could not verify request.")


def test_a_push_signed_with_the_wrong_secret_is_answered_400(server: Server) -> None:
    body = push_body()

    assert post(server.port, body, {"X-Dt-Signature": sign_body(body, OTHER_SECRET)})[0] == 400


def test_a_push_without_signature_is_answered_400(server: Server) -> None:
    assert post(server.port, push_body(), {"Content-Type": "application/json"})[0] == 400


def test_the_heroku_app_acknowledges_a_redelivery(heroku: Server) -> None:
    body = push_body(event_id="redelivered-event-0001")

    first = post(heroku.port, body, {"X-Dt-Signature": sign_body(body, SECRET)})
    again = post(heroku.port, body, {"X-Dt-Signature": sign_body(body, SECRET)})

    assert first == again == (200, "OK")


def test_the_cloud_function_logs_the_event(cloud_function: Server) -> None:
    body = push_body(event_id="logged-event-0001")

    post(cloud_function.port, body, {"X-Dt-Signature": sign_body(body, SECRET)})

    assert "received touch event logged-event-0001" in cloud_function.output()


def test_stopping_honcho_stops_gunicorn_and_its_workers(tmp_path: Path) -> None:
    server = start_heroku(tmp_path)
    assert len(server.pids) >= 3, server.pids  # honcho, its shell or gunicorn master, a worker

    pids = server.stop()

    assert [pid for pid in pids if is_alive(pid)] == []
