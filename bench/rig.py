"""One repetition's world: a fresh database, the receiver, the gateway, projects and accounts."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import procs
from client import Api, Receiver

from gateway.ids import new_id
from gateway.model import Connector
from gateway.store.connector_secrets import seal_secrets
from gateway.store.crypto import SecretBox, parse_keys

SECRET = "bench-signature-secret-of-32-bytes-or-more"  # every connector's
DEVELOPER = "roles/project.developer"
DEVICES_PER_PROJECT = 10


@dataclass
class Project:
    id: str
    devices: list[str] = field(default_factory=list)
    connectors: list[str] = field(default_factory=list)


@dataclass
class Rig:
    """Everything one repetition runs against; `close()` stops what it started."""

    processes: procs.Processes
    server_url: str
    database: str
    database_url: str
    db: asyncpg.Pool
    session: aiohttp.ClientSession
    receiver: Receiver
    gateways: list[procs.Gateway]
    key_id: str
    secret: str
    source: Path
    settings: dict[str, str] = field(default_factory=dict)

    def api(self, index: int = 0) -> Api:
        return Api(self.session, self.gateways[index].url, self.key_id, self.secret)

    def apis(self) -> list[Api]:
        return [self.api(index) for index in range(len(self.gateways))]

    async def add_gateway(self) -> procs.Gateway:
        name = f"gateway-{len(self.gateways) + 1}"
        gateway = await asyncio.to_thread(
            procs.start_gateway,
            self.processes,
            name,
            self.database_url,
            self.source,
            **self.settings,
        )
        self.gateways.append(gateway)
        return gateway

    def stop_gateway(self, gateway: procs.Gateway) -> None:
        self.processes.stop(gateway.process)
        self.gateways.remove(gateway)

    async def project(
        self,
        name: str,
        connectors: int,
        devices: int = DEVICES_PER_PROJECT,
        group: str | None = None,
    ) -> Project:
        """A project the main account develops in, with devices and connectors made by the API.

        Connector i pushes to the receiver's `/<group>/<i>` (group defaults to `name`).
        """
        project = Project(await self.sql_project(name))
        api = self.api()
        project.devices = [await api.create_device(project.id) for _ in range(devices)]
        for index in range(connectors):
            url = self.receiver.url(group or name, index)
            project.connectors.append(await api.create_connector(project.id, url, SECRET))
        return project

    async def sql_project(self, name: str) -> str:
        """A project, made by SQL, where the main account is a developer."""
        project_id: str = new_id()
        now = datetime.now(UTC)
        async with self.db.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO projects (id, display_name, created_at) VALUES ($1, $2, $3)",
                project_id,
                name,
                now,
            )
            await connection.execute(
                "INSERT INTO members (project_id, account_id, role, created_at)"
                " VALUES ($1, $2, $3, $4)",
                project_id,
                self.key_id,
                DEVELOPER,
                now,
            )
        return project_id

    async def close(self) -> None:
        await self.session.close()
        await self.db.close()
        for gateway in list(self.gateways):
            self.stop_gateway(gateway)
        await procs.drop_database(self.server_url, self.database)


async def open_rig(
    processes: procs.Processes,
    server_url: str,
    database: str,
    receiver_url: str,
    source: Path,
    settings: dict[str, str],
) -> Rig:
    """A fresh database (migrated, with a project and a service account made by the gateway's
    own admin commands) and one gateway process on it, with `settings` (GATEWAY_* names
    without the prefix, lower case)."""
    database_url = await procs.create_database(server_url, database)
    made = await asyncio.to_thread(
        procs.admin, database_url, source, "create-project", "--name", "bench"
    )
    account = await asyncio.to_thread(
        procs.admin,
        database_url,
        source,
        "create-service-account",
        "--project",
        made["projectId"],
    )
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert db is not None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=300)
    )
    rig = Rig(
        processes,
        server_url,
        database,
        database_url,
        db,
        session,
        Receiver(session, receiver_url),
        [],
        account["keyId"],
        account["secret"],
        source,
        settings,
    )
    await rig.add_gateway()
    return rig


async def insert_tenants(
    rig: Rig, projects: int, connectors_each: int
) -> tuple[list[Api], list[str]]:
    """`projects` more projects by SQL, each with its own service account (same secret as the
    main one), one device and `connectors_each` ACTIVE connectors pushing to `/scale/...`.

    Returns one API client per project and the projects' ids; project p's device is `devp`.
    """
    ids = [new_id() for _ in range(projects)]
    keys = [new_id() for _ in range(projects)]
    now = datetime.now(UTC)
    digest = hashlib.sha256(rig.secret.encode()).digest()
    owners = [p for p in ids for _ in range(connectors_each)]
    connector_ids = [new_id() for _ in owners]
    urls = [rig.receiver.url("scale", c) for c in connector_ids]
    box = SecretBox(parse_keys(procs.SECRET_KEY, "bench"))
    pairs = zip(owners, connector_ids, strict=True)
    sealed = [
        seal_secrets(box, Connector(project, connector, signature_secret=SECRET))
        for project, connector in pairs
    ]
    async with rig.db.acquire() as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO projects (id, display_name, created_at) "
            "SELECT unnest($1::text[]), 'tenant', $2",
            ids,
            now,
        )
        await connection.execute(
            "INSERT INTO accounts (id, project_id, email, display_name, basic_auth, created_at,"
            " updated_at) "
            "SELECT k, p, k || '@bench', '', true, $3, $3"
            " FROM unnest($1::text[], $2::text[]) AS x (k, p)",
            keys,
            ids,
            now,
        )
        await connection.execute(
            "INSERT INTO account_keys (id, account_id, secret_sha256, created_at) "
            "SELECT k, k, $2, $3 FROM unnest($1::text[]) AS k",
            keys,
            digest,
            now,
        )
        await connection.execute(
            "INSERT INTO members (project_id, account_id, role, created_at) "
            "SELECT unnest($1::text[]), unnest($2::text[]), $3, $4",
            ids,
            keys,
            DEVELOPER,
            now,
        )
        await connection.execute(
            "INSERT INTO devices (project_id, id, type, product_number, labels, created_at) "
            "SELECT p, 'dev' || p, 'temperature', '', '{}'::jsonb, $2 "
            "FROM unnest($1::text[]) AS p",
            ids,
            now,
        )
        await connection.execute(
            "INSERT INTO connectors (project_id, id, display_name, status, events, labels, url,"
            " signature_secret, headers, sealed_secrets, created_at) "
            "SELECT p, c, 'tenant', 'ACTIVE', '{}', '{}', u, '', '{}'::jsonb, s, $5 "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS x (p, c, u, s)",
            owners,
            connector_ids,
            urls,
            sealed,
            now,
        )
    # Made through the API over time, these rows would have been analysed by autovacuum, and
    # plans cached while the tables were small replanned; a bulk insert measured at once is not.
    await rig.db.execute("ANALYZE projects, accounts, account_keys, members, devices, connectors")
    gateway = rig.gateways[0].url
    return [Api(rig.session, gateway, key, rig.secret) for key in keys], ids


async def insert_devices(rig: Rig, project_id: str, count: int) -> list[str]:
    """`count` temperature devices in the project, by SQL."""
    ids = [f"emu{new_id()}" for _ in range(count)]
    await rig.db.execute(
        "INSERT INTO devices (project_id, id, type, product_number, labels, created_at) "
        "SELECT $1, d, 'temperature', '', '{}'::jsonb, $3 FROM unnest($2::text[]) AS d",
        project_id,
        ids,
        datetime.now(UTC),
    )
    return ids


def log_dir(base: Path, repetition: int) -> Path:
    path = base / f"run-{repetition + 1}"
    path.mkdir(parents=True, exist_ok=True)
    return path
