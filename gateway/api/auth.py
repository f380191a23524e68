"""Service accounts, their keys, project roles, Basic auth and the OAuth2 JWT-bearer grant.

A secret is 86 characters, longer than HMAC-SHA256's 64-byte block, so HMAC keys it by its SHA-256
digest. That lets the gateway store only the digest and still verify the HS256 assertions the
`disruptive` SDK signs with the secret itself.

Every request looks its key up afresh: a deleted key, or an account whose Basic auth was turned
off, is refused from the next request on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import jwt

from gateway.errors import BadRequest, Forbidden, NotFound, Unauthorized
from gateway.ids import is_id, new_id
from gateway.store import Executor, accounts, projects

ROLES = ("roles/project.user", "roles/project.developer", "roles/project.admin")
USER, DEVELOPER, ADMIN = ROLES
ORGANIZATION_ADMIN = "roles/organization.admin"
TOKEN_LIFETIME = timedelta(hours=1)
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_LEEWAY = 30  # seconds of clock skew allowed between a client and the gateway
EMAIL_DOMAIN = "serviceaccount.gateway"


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(64)


@dataclass(frozen=True)
class Credentials:
    """A new key's credentials; the secret is shown once and never stored."""

    key_id: str
    secret: str
    email: str

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.key_id!r}, secret='********', email={self.email!r})"


@dataclass(frozen=True)
class Principal:
    """An authenticated key, its account, and the account's role in each project."""

    key_id: str
    roles: dict[str, str]
    account_id: str = ""
    organization_admin: bool = False

    def require(self, project_id: str, role: str) -> None:
        """Raise unless this account holds `role` (or higher) in the project.

        Another tenant's project answers 404, as if it did not exist.
        """
        held = self.roles.get(project_id)
        if held is None:
            raise NotFound(f"project {project_id} not found")
        if ROLES.index(held) < ROLES.index(role):
            raise Forbidden(f"{role} or higher is required")

    def require_organization_admin(self) -> None:
        if not self.organization_admin:
            raise Forbidden(f"{ORGANIZATION_ADMIN} is required")

    def may_edit(self, project_id: str) -> bool:
        held = self.roles.get(project_id)
        return held is not None and ROLES.index(held) >= ROLES.index(DEVELOPER)


async def admit_organization_admin(db: Executor, principal: Principal, project_id: str) -> None:
    """An organization admin is an admin of every live project: add this one if it is."""
    if (
        principal.organization_admin
        and project_id not in principal.roles
        and await accounts.is_live_project(db, project_id)
    ):
        principal.roles[project_id] = ADMIN


def email_of(account_id: str, project_id: str | None) -> str:
    return f"{account_id}@{project_id or 'organization'}.{EMAIL_DOMAIN}"


async def create_key(db: Executor, account_id: str, now: datetime) -> tuple[asyncpg.Record, str]:
    """A new key of an account: its row and its secret (returned this once, never stored)."""
    secret = new_secret()
    row = await accounts.insert_key(db, new_id(), account_id, digest(secret), now)
    return row, secret


async def create_service_account(
    db: asyncpg.Pool, project_id: str | None, role: str, now: datetime, display_name: str = ""
) -> Credentials:
    """An account with Basic auth allowed, one key, and `role` in its project (or, for
    roles/organization.admin and no project, in the organization)."""
    if role not in (*ROLES, ORGANIZATION_ADMIN):
        raise BadRequest(f"unknown role {role!r}; one of {', '.join((*ROLES, ORGANIZATION_ADMIN))}")
    if (role == ORGANIZATION_ADMIN) != (project_id is None):
        raise BadRequest("an organization administrator belongs to no project; others to one")
    account_id = new_id()
    email = email_of(account_id, project_id)
    secret = new_secret()
    async with db.acquire() as connection, connection.transaction():
        await accounts.insert_account(
            connection, account_id, project_id, email, display_name, True, now
        )
        # The first key shares the account's id, as accounts made before keys existed do.
        await accounts.insert_key(connection, account_id, account_id, digest(secret), now)
        if project_id is None:
            organization = await projects.organization(connection)
            await accounts.add_organization_member(
                connection, organization["id"], account_id, role, now
            )
        else:
            await accounts.add_member(connection, project_id, account_id, role, now)
    return Credentials(key_id=account_id, secret=secret, email=email)


def _principal(key_id: str, rows: list[asyncpg.Record]) -> Principal:
    roles = {row["project_id"]: row["role"] for row in rows if row["project_id"] is not None}
    return Principal(
        key_id=key_id,
        roles=roles,
        account_id=rows[0]["account_id"],
        organization_admin=rows[0]["organization_admin"],
    )


async def principal_of_key(db: Executor, key_id: str) -> Principal | None:
    """The key's principal with its roles as of now, or None when the key no longer exists or
    its account no longer allows Basic auth (a console session opened with it ends then)."""
    rows = await accounts.grants_of_key(db, key_id)
    return _principal(key_id, rows) if rows and rows[0]["basic_auth"] else None


async def authenticate(db: asyncpg.Pool, authorization: str | None, now: datetime) -> Principal:
    """The principal behind an `Authorization` header (Basic or Bearer), or Unauthorized."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        key_id = await accounts.key_of_access_token(db, digest(value), now)
        rows = await accounts.grants_of_key(db, key_id) if key_id else []
        if key_id and rows:
            return _principal(key_id, rows)
        raise Unauthorized("invalid or expired access token")
    if scheme.lower() == "basic" and value:
        key_id, secret = _basic_pair(value)
        rows = await accounts.grants_of_key(db, key_id) if is_id(key_id) else []
        if rows and hmac.compare_digest(rows[0]["secret_sha256"], digest(secret)):
            if not rows[0]["basic_auth"]:
                raise Unauthorized("Basic auth is disabled for this service account")
            return _principal(key_id, rows)
        raise Unauthorized("invalid service account key or secret")
    raise Unauthorized("missing credentials: use Basic auth or a Bearer access token")


def _basic_pair(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials") from None
    key_id, colon, secret = decoded.partition(":")
    if not colon:
        raise Unauthorized("malformed Basic credentials")
    return key_id, secret


async def grant_access_token(
    db: asyncpg.Pool, assertion: str, audiences: list[str], now: datetime
) -> str:
    """Exchange a JWT-bearer assertion signed with a key's secret for an access token."""
    try:
        key_id = jwt.get_unverified_header(assertion).get("kid")
    except jwt.PyJWTError:
        raise Unauthorized("malformed assertion") from None
    key = None
    if isinstance(key_id, str) and is_id(key_id):
        key = await accounts.key_for_assertion(db, key_id)
    if key is None:
        raise Unauthorized("unknown service account key")
    try:
        claims = jwt.decode(
            assertion,
            key["secret_sha256"],
            algorithms=["HS256"],
            audience=audiences,
            issuer=key["email"],
            options={
                "require": ["exp", "iat", "aud", "iss"], "verify_exp": False, "verify_iat": False
            },
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid assertion: {error}") from None
    _check_lifetime(claims["iat"], claims["exp"], now.timestamp())
    token = secrets.token_urlsafe(32)
    try:
        await accounts.insert_access_token(db, digest(token), key["id"], now + TOKEN_LIFETIME)
    except asyncpg.ForeignKeyViolationError:
        raise Unauthorized("unknown service account key") from None  # deleted meanwhile
    return token


def _check_lifetime(iat: object, exp: object, now: float) -> None:
    """iat and exp against the gateway's clock (PyJWT would read the system clock)."""
    if type(iat) is not int or type(exp) is not int:
        raise Unauthorized("invalid assertion: iat and exp must be integers")
    if exp + _LEEWAY < now:
        raise Unauthorized("invalid assertion: the assertion has expired")
    if iat - _LEEWAY > now:
        raise Unauthorized("invalid assertion: iat is in the future")
    if exp - iat > 3600:
        raise Unauthorized("invalid assertion: exp must be at most one hour after iat")
