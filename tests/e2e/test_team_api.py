"""The team's side of the API against real gateway processes: the admin commands, and DT's
SDK event stream surviving a gateway restart by reconnecting."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import disruptive as dt
import orjson
import pytest
import requests

from tests.e2e.processes import ROOT, GatewayProcess, admin, gateway_env, wait_for
from tests.integration.sdk_support import SdkStream, sdk_globals

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sdk_globals")]
__all__ = ["sdk_globals"]


def basic(key_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def refused(env: dict[str, str], *arguments: str) -> dict[str, object]:
    """An admin command that must fail: its JSON error."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "admin", *arguments],
        cwd=ROOT, env=env, capture_output=True, timeout=60, check=False,
    )
    assert done.returncode == 1, done
    return orjson.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return gateway_env(database_url, dispatcher="false")


@pytest.fixture
def gateway(env: dict[str, str], tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(env, tmp_path / "gateway.log").start()
    try:
        yield process
    finally:
        process.stop()


def test_admin_commands(env: dict[str, str], gateway: GatewayProcess) -> None:
    organization_admin = admin(env, "create-organization-admin")
    assert organization_admin["role"] == "roles/organization.admin"
    project = admin(env, "create-project", "--name", "plant")["projectId"]
    owner = admin(env, "create-service-account", "--project", project,
                  "--role", "roles/project.admin")
    listed = admin(env, "list-projects")
    assert listed["organizationId"] == organization_admin["organizationId"]
    assert [p["projectId"] for p in listed["projects"]] == [project]  # type: ignore[index]
    accounts = admin(env, "list-service-accounts", "--project", project)["serviceAccounts"]
    assert [a["serviceAccountId"] for a in accounts] == [owner["keyId"]]  # type: ignore[index]
    organization_accounts = admin(env, "list-service-accounts")["serviceAccounts"]
    assert [a["email"] for a in organization_accounts] == [  # type: ignore[index]
        organization_admin["email"]
    ]

    key = admin(env, "create-key", "--service-account", owner["keyId"])
    url = f"{gateway.url}/v2/projects/{project}/dataconnectors"
    assert requests.get(url, headers=basic(key["keyId"], key["secret"]), timeout=5).ok
    admin(env, "delete-key", "--key", key["keyId"])
    answer = requests.get(url, headers=basic(key["keyId"], key["secret"]), timeout=5)
    assert answer.status_code == 401
    assert refused(env, "delete-key", "--key", key["keyId"])["code"] == 404

    assert refused(env, "delete-service-account", "--service-account", owner["keyId"])
    developer = admin(env, "create-service-account", "--project", project)
    admin(env, "delete-service-account", "--service-account", developer["keyId"])
    answer = requests.get(url, headers=basic(developer["keyId"], developer["secret"]), timeout=5)
    assert answer.status_code == 401


def test_event_stream_survives_a_gateway_restart(
    env: dict[str, str], gateway: GatewayProcess
) -> None:
    project = admin(env, "create-project", "--name", "stream")["projectId"]
    reader = admin(env, "create-service-account", "--project", project,
                   "--role", "roles/project.user")
    publisher = admin(env, "create-service-account", "--project", project)
    dt.base_url = dt.emulator_base_url = f"{gateway.url}/v2"
    credentials = dt.Auth.service_account(reader["keyId"], reader["secret"], reader["email"])
    credentials.token_endpoint = f"{gateway.url}/oauth2/token"
    dt.default_auth = credentials
    dt.request_attempts = 6  # reconnects after 0, 1, 4, 9, 16 and 25 s
    headers = basic(publisher["keyId"], publisher["secret"])
    base = f"{gateway.url}/v2/projects/{project}/devices"
    device = requests.post(base, json={"type": "touch"}, headers=headers, timeout=5).json()
    publish = f"{base}/{device['name'].rsplit('/', 1)[-1]}:publish"

    def published_one_seen(stream: SdkStream) -> bool:
        """Publish until the stream yields one of the events (it may not be connected yet)."""
        answer = requests.post(publish, json={"touch": {}}, headers=headers, timeout=5)
        sent = answer.json()["eventId"] if answer.ok else None
        return sent is not None and sent in wait_briefly(stream, sent)

    stream = SdkStream(project)
    wait_for(lambda: published_one_seen(stream), 20, "the stream's first event")
    gateway.stop()
    gateway.start()
    seen_before = len(stream.events)
    wait_for(lambda: published_one_seen(stream), 40, "an event after the restart")
    assert len(stream.events) > seen_before and stream.error is None
    stream.stop()


def wait_briefly(stream: SdkStream, event_id: str) -> list[str]:
    """The stream's event ids once `event_id` is among them, or after two seconds."""
    with contextlib.suppress(AssertionError):
        wait_for(lambda: event_id in stream.ids(), 2, "the event")
    return stream.ids()
