"""Service accounts, project roles, Basic auth and the OAuth2 JWT-bearer grant.

A secret is 86 characters, longer than HMAC-SHA256's 64-byte block, so HMAC keys it by its SHA-256
digest. That lets the gateway store only the digest and still verify the HS256 assertions the
`disruptive` SDK signs with the secret itself.
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
from gateway.store import accounts

ROLES = ("roles/project.user", "roles/project.developer", "roles/project.admin")
USER, DEVELOPER, ADMIN = ROLES
TOKEN_LIFETIME = timedelta(hours=1)
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_LEEWAY = 30  # seconds of clock skew allowed between a client and the gateway


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class Credentials:
    """A new service account's credentials; the secret is shown once and never stored."""

    key_id: str
    secret: str
    email: str

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.key_id!r}, secret='********', email={self.email!r})"


@dataclass(frozen=True)
class Principal:
    """An authenticated service account and its role in each project."""

    key_id: str
    roles: dict[str, str]

    def require(self, project_id: str, role: str) -> None:
        """Raise unless this account holds `role` (or higher) in the project.

        Another tenant's project answers 404, as if it did not exist.
        """
        held = self.roles.get(project_id)
        if held is None:
            raise NotFound(f"project {project_id} not found")
        if ROLES.index(held) < ROLES.index(role):
            raise Forbidden(f"{role} or higher is required")

    def may_edit(self, project_id: str) -> bool:
        held = self.roles.get(project_id)
        return held is not None and ROLES.index(held) >= ROLES.index(DEVELOPER)


async def create_service_account(
    db: asyncpg.Pool, project_id: str, role: str, now: datetime
) -> Credentials:
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    key_id = new_id()
    credentials = Credentials(
        key_id=key_id,
        secret=secrets.token_urlsafe(64),
        email=f"{key_id}@{project_id}.serviceaccount.gateway",
    )
    await accounts.create_service_account(
        db, key_id, credentials.email, digest(credentials.secret), now
    )
    await accounts.add_member(db, project_id, key_id, role)
    return credentials


def _principal(key_id: str, rows: list[asyncpg.Record]) -> Principal:
    roles = {row["project_id"]: row["role"] for row in rows if row["project_id"] is not None}
    return Principal(key_id=key_id, roles=roles)


async def authenticate(db: asyncpg.Pool, authorization: str | None, now: datetime) -> Principal:
    """The principal behind an `Authorization` header (Basic or Bearer), or Unauthorized."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        rows = await accounts.roles_by_access_token(db, digest(value), now)
        if rows:
            return _principal(rows[0]["key_id"], rows)
        raise Unauthorized("invalid or expired access token")
    if scheme.lower() == "basic" and value:
        key_id, secret = _basic_pair(value)
        rows = await accounts.roles_by_key(db, key_id) if is_id(key_id) else []
        if rows and hmac.compare_digest(rows[0]["secret_sha256"], digest(secret)):
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
    """Exchange a JWT-bearer assertion signed with an account's secret for an access token."""
    try:
        key_id = jwt.get_unverified_header(assertion).get("kid")
    except jwt.PyJWTError:
        raise Unauthorized("malformed assertion") from None
    account = None
    if isinstance(key_id, str) and is_id(key_id):
        account = await accounts.service_account(db, key_id)
    if account is None:
        raise Unauthorized("unknown service account key")
    try:
        claims = jwt.decode(
            assertion,
            account["secret_sha256"],
            algorithms=["HS256"],
            audience=audiences,
            issuer=account["email"],
            options={
                "require": ["exp", "iat", "aud", "iss"], "verify_exp": False, "verify_iat": False
            },
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid assertion: {error}") from None
    _check_lifetime(claims["iat"], claims["exp"], now.timestamp())
    token = secrets.token_urlsafe(32)
    await accounts.insert_access_token(db, digest(token), account["key_id"], now + TOKEN_LIFETIME)
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
