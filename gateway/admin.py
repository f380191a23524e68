"""The `admin` commands of the command line beyond creating projects and accounts: listing
projects and service accounts, keys, and the first organization administrator. Each prints JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.api import auth
from gateway.clock import system_clock
from gateway.errors import GatewayError, NotFound
from gateway.ingest.eventdata import format_timestamp
from gateway.store import accounts, projects


def add_commands(commands: Any) -> None:
    """Register the commands on the `admin` subparsers."""
    commands.add_parser("list-projects", help="every live project")
    listing = commands.add_parser("list-service-accounts", help="a project's service accounts")
    listing.add_argument("--project", help="a project id; without it, the organization's")
    key = commands.add_parser("create-key", help="a new key of a service account")
    key.add_argument("--service-account", required=True)
    gone = commands.add_parser("delete-key", help="delete a key; its tokens stop working")
    gone.add_argument("--key", required=True)
    account = commands.add_parser("delete-service-account", help="with its keys and roles")
    account.add_argument("--service-account", required=True)
    commands.add_parser(
        "create-organization-admin",
        help="a service account holding roles/organization.admin (a fresh installation's first)",
    )


async def _list_projects(db: asyncpg.Pool, _arguments: argparse.Namespace) -> Any:
    organization = await projects.organization(db)
    found, after = [], ""
    while page := await projects.list_page(db, None, "", after, 100):
        found += [{"projectId": row["id"], "displayName": row["display_name"],
                   "devices": row["sensors"] + row["cloud_connectors"]} for row in page]
        after = page[-1]["id"]
    return {"organizationId": organization["id"], "projects": found}


def _account_json(row: asyncpg.Record) -> dict[str, Any]:
    return {"serviceAccountId": row["id"], "email": row["email"],
            "displayName": row["display_name"], "project": row["project_id"],
            "enableBasicAuth": row["basic_auth"], "createTime": format_timestamp(row["created_at"])}


async def _list_service_accounts(db: asyncpg.Pool, arguments: argparse.Namespace) -> Any:
    if arguments.project is None:
        rows = await accounts.organization_accounts(db)
    else:
        if await projects.get(db, arguments.project) is None:
            raise NotFound(f"project {arguments.project} not found")
        rows, after = [], ""
        while page := await accounts.list_accounts(db, arguments.project, after, 100):
            rows += page
            after = page[-1]["id"]
    return {"serviceAccounts": [_account_json(row) for row in rows]}


async def _create_key(db: asyncpg.Pool, arguments: argparse.Namespace) -> Any:
    account = await accounts.account_by_id(db, arguments.service_account)
    if account is None:
        raise NotFound(f"service account {arguments.service_account} not found")
    row, secret = await auth.create_key(db, account["id"], system_clock())
    return {"keyId": row["id"], "secret": secret, "email": account["email"],
            "serviceAccountId": account["id"]}


async def _delete_key(db: asyncpg.Pool, arguments: argparse.Namespace) -> Any:
    row = await accounts.delete_key_by_id(db, arguments.key)
    if row is None:
        raise NotFound(f"key {arguments.key} not found")
    return {"deleted": row["id"], "serviceAccountId": row["account_id"]}


async def _delete_service_account(db: asyncpg.Pool, arguments: argparse.Namespace) -> Any:
    deleted, orphaned = await accounts.delete_account(db, arguments.service_account)
    if orphaned:
        raise GatewayError(f"the service account is the last admin of {', '.join(orphaned)}")
    if not deleted:
        raise NotFound(f"service account {arguments.service_account} not found")
    return {"deleted": arguments.service_account}


async def _create_organization_admin(db: asyncpg.Pool, _arguments: argparse.Namespace) -> Any:
    credentials = await auth.create_service_account(
        db, None, auth.ORGANIZATION_ADMIN, system_clock(), display_name="organization admin"
    )
    organization = await projects.organization(db)
    return {"keyId": credentials.key_id, "secret": credentials.secret,
            "email": credentials.email, "organizationId": organization["id"],
            "role": auth.ORGANIZATION_ADMIN}


COMMANDS: dict[str, Callable[[asyncpg.Pool, argparse.Namespace], Awaitable[Any]]] = {
    "list-projects": _list_projects,
    "list-service-accounts": _list_service_accounts,
    "create-key": _create_key,
    "delete-key": _delete_key,
    "delete-service-account": _delete_service_account,
    "create-organization-admin": _create_organization_admin,
}


async def run(db: asyncpg.Pool, arguments: argparse.Namespace) -> Any:
    """One of COMMANDS; a refusal becomes {"error", "code"} (the caller exits non-zero)."""
    try:
        return await COMMANDS[arguments.admin_command](db, arguments)
    except GatewayError as error:
        return {"error": error.message, "code": error.status}
