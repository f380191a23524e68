"""`admin deliveries` and `admin replay`: the delivery log and :replay for operators without an
HTTP client. Both read the database directly and check what the API checks."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from gateway.api.delivery_form import MAX_PAGE_SIZE, delivery_json, replay_window
from gateway.clock import system_clock
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.model import ACTIVE, DELIVERY_STATUSES
from gateway.store import attempts, connectors, create_pool, delivery_log, migrate

COMMANDS = ("deliveries", "replay")


def add_commands(admin: Any) -> None:
    """Register the commands under `admin` (an argparse subparsers object)."""
    listing = admin.add_parser("deliveries", help="a connector's delivery log, as JSON lines")
    listing.add_argument("--project", required=True)
    listing.add_argument("--connector", required=True)
    listing.add_argument("--status", choices=DELIVERY_STATUSES)
    listing.add_argument("--limit", type=int, default=100, help="newest N (default 100)")
    replay = admin.add_parser("replay", help="queue a window of stored events again")
    replay.add_argument("--project", required=True)
    replay.add_argument("--connector", required=True)
    replay.add_argument("--start", required=True, help="RFC 3339 time the window starts")
    replay.add_argument("--end", required=True, help="RFC 3339 time the window ends")
    replay.add_argument("--event-types", default="", help="comma-separated; default all")
    replay.add_argument("--devices", default="", help="comma-separated device ids; default all")
    replay.add_argument("--only-undelivered", action="store_true")


async def run(arguments: argparse.Namespace, url: str) -> Any:
    """Run one of COMMANDS; a refusal exits with its message, as the API would answer it."""
    connection = await asyncpg.connect(url)
    try:
        await migrate.migrate(connection)
    finally:
        await connection.close()
    db = await create_pool(url, 2)
    try:
        if arguments.admin_command == "deliveries":
            await _print_deliveries(db, arguments)
            return None
        return await _replay(db, arguments, Settings.from_env())
    except GatewayError as error:
        raise SystemExit(f"error: {error.message}") from None
    finally:
        await db.close()


async def _print_deliveries(db: asyncpg.Pool, arguments: argparse.Namespace) -> None:
    project, connector = arguments.project, arguments.connector
    query = delivery_log.LogQuery(status=arguments.status or "")
    left = max(arguments.limit, 0)
    while left > 0:
        rows = await delivery_log.page(
            db, project, connector, query.with_limit(min(left, MAX_PAGE_SIZE))
        )
        tried = await attempts.of_deliveries(db, project, [row["id"] for row in rows])
        for row in rows:
            entry = delivery_json(project, connector, row, tried.get(row["id"], []))
            sys.stdout.write(orjson.dumps(entry).decode() + "\n")
        if len(rows) < min(left, MAX_PAGE_SIZE):
            return
        left -= len(rows)
        query = delivery_log.LogQuery(status=query.status, before_id=rows[-1]["id"])


def _listed(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


async def _replay(
    db: asyncpg.Pool, arguments: argparse.Namespace, settings: Settings
) -> dict[str, Any]:
    connector = await connectors.get(db, arguments.project, arguments.connector)
    if connector is None:
        raise SystemExit(f"error: data connector {arguments.connector} not found")
    body = {
        "startTime": arguments.start,
        "endTime": arguments.end,
        "eventTypes": _listed(arguments.event_types),
        "devices": _listed(arguments.devices),
        "onlyUndelivered": arguments.only_undelivered,
    }
    now = system_clock()
    window = replay_window(
        body, now, settings.retention, settings.attempt_retention, connector.events
    )
    if connector.status != ACTIVE:
        raise SystemExit("error: only an ACTIVE data connector can be replayed")
    matching, queued = await delivery_log.replay(
        db, connector.project_id, connector.id, window, now,
        now + timedelta(seconds=settings.delivery_max_age), settings.replay_limit,
    )
    if matching > settings.replay_limit:
        raise SystemExit(
            f"error: this replay would queue {matching} deliveries, more than the limit of "
            f"{settings.replay_limit}"
        )
    return {"queued": queued}
