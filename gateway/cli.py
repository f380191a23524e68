"""The command line: `python -m gateway serve | migrate | demo | listen | admin ...`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import structlog

from gateway import admin as admin_cli
from gateway import delivery_admin, failures, listen, logs
from gateway.api import auth
from gateway.clock import system_clock
from gateway.config import ConfigError, Settings
from gateway.embedded import database, use_uvloop
from gateway.ids import new_id
from gateway.push import asymmetric
from gateway.store import accounts, create_pool, migrate, secrets
from gateway.store.crypto import SecretKeyError


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard one (each connection holds one).

    Returns the (old, new) soft limits.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def freeze_start_up_heap(_app: object) -> None:
    """Leave what start-up made (modules, settings, pools) out of every later garbage
    collection: a full collection then scans only what serving made, and holds the event loop
    up for less time."""
    gc.collect()
    gc.freeze()


def serve(settings: Settings) -> None:
    from aiohttp import web

    from gateway.app import create_app, server_options

    before, after = raise_open_files_limit()

    async def report_open_files_limit(_app: web.Application) -> None:
        # Once started, so that a start-up failure stays the first line of the output.
        structlog.get_logger(__name__).info("open_files_limit", soft_before=before, soft=after)

    use_uvloop()
    with database(settings) as ready:
        app = create_app(ready)
        app.on_startup.append(report_open_files_limit)
        app.on_startup.append(freeze_start_up_heap)
        web.run_app(
            app,
            host=ready.host,
            port=ready.port,
            shutdown_timeout=ready.shutdown_timeout,
            access_log=None,
            print=lambda text: print(text, file=sys.stderr),
            **server_options(ready),
        )


async def _migrate(url: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        return await migrate.migrate(connection)
    finally:
        await connection.close()


async def _create_project(url: str, name: str) -> dict[str, Any]:
    await _migrate(url)
    db = await create_pool(url, 2)
    try:
        project_id = new_id()
        await accounts.create_project(db, project_id, name, system_clock())
        return {"projectId": project_id, "displayName": name}
    finally:
        await db.close()


async def _create_service_account(url: str, project: str, role: str) -> dict[str, Any]:
    await _migrate(url)
    db = await create_pool(url, 2)
    try:
        credentials = await auth.create_service_account(db, project, role, system_clock())
        return {"keyId": credentials.key_id, "secret": credentials.secret,
                "email": credentials.email, "project": project, "role": role}
    finally:
        await db.close()


async def _admin(url: str, arguments: argparse.Namespace) -> Any:
    await _migrate(url)
    db = await create_pool(url, 2)
    try:
        return await admin_cli.run(db, arguments)
    finally:
        await db.close()


async def _with_box(settings: Settings, url: str, command: str) -> dict[str, Any]:
    """Commands on sealed secrets: open the box (which seals secrets stored in clear), then
    rotate the signing key or re-seal everything under the first key."""
    await _migrate(url)
    db = await create_pool(url, 2)
    try:
        async with db.acquire() as connection:
            box = await secrets.open_box(connection, settings.secret_key, settings.data_dir)
        if command == "migrate":
            return {}
        if command == "rotate-signing-key":
            kid = await asymmetric.rotate(db, box, system_clock())
            return {"kid": kid, "previousKey": "published until its last tokens expired"}
        return {"resealed": await secrets.reseal_all(db, box)}
    finally:
        await db.close()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the gateway (embedded PostgreSQL if no URL is set)")
    commands.add_parser("migrate", help="apply pending database migrations")
    demo = commands.add_parser("demo", help="run the gateway with a live demo")
    demo.add_argument("--rate", type=float, default=20.0, help="events per second")
    demo.add_argument("--duration", type=float, default=0.0, help="seconds; 0 = until Ctrl-C")
    listen.add_arguments(
        commands.add_parser(
            "listen", help="receive a project's pushes here, through a temporary connector"
        )
    )
    admin = commands.add_parser("admin", help="projects and service accounts")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    project = admin_commands.add_parser("create-project", help="create a project")
    project.add_argument("--name", required=True)
    account = admin_commands.add_parser("create-service-account", help="create a service account")
    account.add_argument("--project", required=True)
    account.add_argument("--role", default=auth.DEVELOPER, choices=auth.ROLES)
    admin_cli.add_commands(admin_commands)
    delivery_admin.add_commands(admin_commands)
    admin_commands.add_parser(
        "rotate-signing-key", help="sign pushes with a new asymmetric key from now on"
    )
    admin_commands.add_parser(
        "reencrypt-secrets", help="seal the stored secrets again under the first secret key"
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        return _command(arguments, settings)
    except SecretKeyError as error:
        print(f"secret key error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        message = failures.explain(error, settings)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1


def _command(arguments: argparse.Namespace, settings: Settings) -> int:
    if arguments.command == "serve":
        serve(settings)
        return 0
    if arguments.command == "demo":
        from gateway.demo import run_demo

        return run_demo(settings, rate=arguments.rate, duration=arguments.duration)
    if arguments.command == "listen":
        return listen.run_listen(arguments, settings)
    with database(settings) as ready:
        assert ready.database_url is not None
        result = asyncio.run(_run(arguments, ready))
    if result is None:  # commands printing JSON lines have printed them
        return 0
    print(orjson.dumps(result).decode())
    return 1 if isinstance(result, dict) and "error" in result else 0


async def _run(arguments: argparse.Namespace, settings: Settings) -> Any:
    url = settings.database_url
    assert url is not None
    if arguments.command == "migrate":
        applied = await _migrate(url)
        await _with_box(settings, url, "migrate")  # seals what is stored in clear
        return {"applied": applied, "at": datetime.now(UTC).isoformat()}
    if arguments.admin_command in ("rotate-signing-key", "reencrypt-secrets"):
        return await _with_box(settings, url, arguments.admin_command)
    if arguments.admin_command in delivery_admin.COMMANDS:
        return await delivery_admin.run(arguments, url)
    if arguments.admin_command == "create-project":
        return await _create_project(url, arguments.name)
    if arguments.admin_command in admin_cli.COMMANDS:
        return await _admin(url, arguments)
    return await _create_service_account(url, arguments.project, arguments.role)
