"""DT's asymmetric push signature: an ES256 JWT in `DT-Asymmetric-Signature`, signed with the
gateway's own EC P-256 key, which receivers find through the discovery document and its JWKS.

Header `{"alg":"ES256","kid":<key id>,"typ":"JWT"}`; claims `checksum_sha256` (SHA-256 hex of
the exact body), `exp` = `iat` + 300, `iat`, `iss` (the issuer), `sub` (the project id: the
gateway has no organisations, and a project is what a receiver subscribes to).

Tokens are built here rather than by PyJWT (the tests check the header and claims segments
byte for byte against `jwt.encode`): the ECDSA signature from `cryptography` is most of the
cost, and PyJWT would add its key and header checks on every push.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.ids import new_id
from gateway.push.es256 import ALGORITHM, SigningKey, b64url, load_private_key, raw_signature
from gateway.push.signing_worker import SigningWorker
from gateway.store import signing_keys
from gateway.store.crypto import SecretBox

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "DT-Asymmetric-Signature"
TOKEN_LIFETIME = 300
ISSUER_PATH = "/data-connector"
DISCOVERY_PATH = ISSUER_PATH + "/.well-known/openid-configuration"
JWKS_PATH = ISSUER_PATH + "/.well-known/jwks.json"


def issuer(public_url: str | None, host: str, port: int) -> str:
    """`<GATEWAY_PUBLIC_URL>/data-connector`, else the address the gateway binds."""
    if public_url:
        return public_url.rstrip("/") + ISSUER_PATH
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{ISSUER_PATH}"


def new_private_key() -> bytes:
    """A fresh P-256 private key, PKCS#8 DER (the store seals it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_jwk(der: bytes, kid: str) -> dict[str, Any]:
    """The public half of a private key as a JWK (RFC 7518 §6.2)."""
    numbers = load_private_key(der).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")).decode(),
        "y": b64url(numbers.y.to_bytes(32, "big")).decode(),
        "use": "sig",
        "alg": ALGORITHM,
        "kid": kid,
    }


class AsymmetricSigner:
    """Signs push bodies with the current key; `use` swaps the key when it is rotated.

    With a `SigningWorker`, `token` has the ECDSA signature made in the worker's process.
    """

    def __init__(self, key: SigningKey, issuer: str, worker: SigningWorker | None = None) -> None:
        self.key = key
        self.issuer = issuer
        self.worker = worker

    def use(self, key: SigningKey) -> None:
        self.key = key

    def sign(self, body: bytes, subject: str, now: float) -> str:
        """The `DT-Asymmetric-Signature` value for `body`, issued at `now`, signed here."""
        key = self.key
        signing_input = self._signing_input(key, body, subject, now)
        return _token(signing_input, raw_signature(key.private_key, signing_input))

    async def token(self, body: bytes, subject: str, now: float) -> str:
        """As `sign`, with the signature made by the worker when there is one."""
        if self.worker is None:
            return self.sign(body, subject, now)
        key = self.key
        signing_input = self._signing_input(key, body, subject, now)
        return _token(signing_input, await self.worker.sign(key, signing_input))

    def _signing_input(self, key: SigningKey, body: bytes, subject: str, now: float) -> bytes:
        issued = int(now)
        claims = {
            "checksum_sha256": hashlib.sha256(body).hexdigest(),
            "exp": issued + TOKEN_LIFETIME,
            "iat": issued,
            "iss": self.issuer,
            "sub": subject,
        }
        return key.header + b"." + b64url(orjson.dumps(claims))


def _token(signing_input: bytes, signature: bytes) -> str:
    return (signing_input + b"." + b64url(signature)).decode()


def discovery_document(issuer: str, jwks_uri: str) -> dict[str, Any]:
    """The OpenID-style discovery document receivers read (DT's recipe reads these keys)."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    }


def _new_key_pair() -> tuple[str, bytes, dict[str, Any]]:
    kid, der = new_id(), new_private_key()
    return kid, der, public_jwk(der, kid)


async def load_signer(
    db: asyncpg.Pool,
    box: SecretBox,
    issuer: str,
    now: datetime,
    worker: SigningWorker | None = None,
) -> AsymmetricSigner:
    """The signer with the shared current key, made now if this is the first start."""
    kid, der = await signing_keys.ensure(db, box, *_new_key_pair(), now)
    return AsymmetricSigner(SigningKey.from_der(kid, der), issuer, worker)


async def refresh(signer: AsymmetricSigner, db: asyncpg.Pool, box: SecretBox) -> None:
    """Start using the current key if another process rotated it."""
    found = await signing_keys.current(db, box)
    if found is not None and found[0] != signer.key.kid:
        signer.use(SigningKey.from_der(*found))
        log.info("signing_key_changed", kid=found[0])


async def rotate(db: asyncpg.Pool, box: SecretBox, now: datetime) -> str:
    """Retire the current key and sign with a new one from now on; returns its kid."""
    kid, der, jwk = _new_key_pair()
    await signing_keys.rotate(db, box, kid, der, jwk, now)
    return kid
