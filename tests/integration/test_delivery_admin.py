"""`admin deliveries` and `admin replay`, run as real processes against the test's database."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import orjson

from gateway.ingest.eventdata import format_timestamp
from tests.harness import Gateway
from tests.integration.support import connector_id, patch_connector
from tests.receiver import Receiver


async def admin(gateway: Gateway, *arguments: str) -> tuple[int, bytes, bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = str(gateway.settings.database_url)
    env["GATEWAY_SECRET_KEY"] = str(gateway.settings.secret_key)  # the key its secrets are sealed with
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "admin", *arguments, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out, err


def lines(out: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.splitlines()]


async def test_admin_lists_dropped_deliveries_and_replays_them(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    connector = connector_id(await gateway.connector(account, receiver.url("/hook")))
    device = await gateway.device(account)
    start = format_timestamp(gateway.clock())
    events = [(await gateway.publish(account, device, {"touch": {}}))["eventId"]
              for _ in range(3)]
    await patch_connector(gateway, account, connector, {"status": "USER_DISABLED"})
    await patch_connector(gateway, account, connector, {"status": "ACTIVE"})
    who = ["--project", account.project_id, "--connector", connector]

    code, out, _ = await admin(gateway, "deliveries", *who, "--status", "DROPPED", "--limit", "2")
    assert code == 0
    listed = lines(out)
    assert [entry["eventId"] for entry in listed] == events[:0:-1]
    assert {entry["dropReason"] for entry in listed} == {"CONNECTOR_DISABLED"}

    gateway.clock.advance(1)
    end = format_timestamp(gateway.clock())
    code, out, _ = await admin(gateway, "replay", *who, "--start", start, "--end", end,
                               "--only-undelivered")
    assert (code, orjson.loads(out)) == (0, {"queued": 3})
    gateway.clock.advance(60)  # the command queued them at the real time, a little later
    assert await gateway.deliver() == 3
    assert sorted(push.event_id for push in receiver.received) == sorted(events)

    code, out, err = await admin(gateway, "replay", *who, "--start", end, "--end", start)
    assert code != 0 and out == b"" and b"startTime must be before endTime" in err
