"""A full run of the real process, at debug level, never writes a credential to its log."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.processes import GatewayProcess, admin, gateway_env
from tests.receiver import Answer, running_receiver

pytestmark = pytest.mark.slow
SIGNATURE_SECRET = "signature-secret-that-must-never-be-logged"
HEADER_VALUE = "api-key-value-that-must-never-be-logged"


async def test_secrets_never_reach_the_logs(database_url: str, tmp_path: Path) -> None:
    env = gateway_env(database_url, log_level="debug", retry_base="0.2", poll_interval="0.1")
    project = admin(env, "create-project", "--name", "logs")["projectId"]
    account = admin(env, "create-service-account", "--project", project)
    basic = base64.b64encode(f"{account['keyId']}:{account['secret']}".encode()).decode()
    async with running_receiver(None) as receiver:
        receiver.script("/hook", Answer(500), Answer(200))
        gateway = await asyncio.to_thread(GatewayProcess(env, tmp_path / "gateway.log").start)
        try:
            headers = {"Authorization": f"Basic {basic}"}
            async with aiohttp.ClientSession(gateway.url, headers=headers) as client:
                token = await _bearer_token(client, account, gateway.url)
                await _exercise(client, project, receiver.url("/hook"), token)
                deadline = asyncio.get_running_loop().time() + 30
                while len(receiver.at("/hook")) < 2:
                    assert asyncio.get_running_loop().time() < deadline, gateway.logs()
                    await asyncio.sleep(0.05)
        finally:
            gateway.stop()
    logs = gateway.logs()
    assert "push_failed" in logs  # the failure was logged, with its context
    for secret in (account["secret"], SIGNATURE_SECRET, HEADER_VALUE, token, basic):
        assert secret not in logs
    assert "X-Dt-Signature" not in logs
    signature = receiver.at("/hook")[0].headers["X-Dt-Signature"]
    assert signature not in logs


async def _bearer_token(
    client: aiohttp.ClientSession, account: dict[str, str], base_url: str
) -> str:
    import time

    import jwt

    now = int(time.time())
    assertion = jwt.encode(
        {"iat": now, "exp": now + 3600, "aud": base_url + "/oauth2/token",
         "iss": account["email"]},
        account["secret"],
        algorithm="HS256",
        headers={"kid": account["keyId"]},
    )
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    async with client.post("/oauth2/token", data=form, headers={"Authorization": ""}) as answer:
        assert answer.status == 200, await answer.text()
        return str((await answer.json())["access_token"])


async def _exercise(client: aiohttp.ClientSession, project: str, url: str, token: str) -> None:
    base = f"/v2/projects/{project}"
    connector = {"httpConfig": {"url": url, "signatureSecret": SIGNATURE_SECRET,
                                "headers": {"x-api-key": HEADER_VALUE}}}
    async with client.post(f"{base}/dataconnectors", json=connector) as answer:
        assert answer.status == 200
    bearer = {"Authorization": f"Bearer {token}"}
    async with client.post(f"{base}/devices", json={"type": "touch"}, headers=bearer) as answer:
        device = (await answer.json())["name"].split("/")[-1]
    async with client.post(f"{base}/devices/{device}:publish", json={"touch": {}}) as answer:
        assert answer.status == 200
    async with client.get(f"{base}/dataconnectors", headers={"Authorization": "Basic bad"}) as a:
        assert a.status == 401
