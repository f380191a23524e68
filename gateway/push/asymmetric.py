"""DT's asymmetric push signature: an ES256 JWT in `DT-Asymmetric-Signature`, signed with the
gateway's own EC P-256 key, which receivers find through the discovery document and its JWKS.

Header `{"alg":"ES256","kid":<key id>,"typ":"JWT"}`; claims `checksum_sha256` (SHA-256 hex of
the exact body), `exp` = `iat` + 300, `iat`, `iss` (the issuer), `sub` (the project id: the
gateway has no organisations, and a project is what a receiver subscribes to).

Tokens are built here rather than by PyJWT (the tests check the header and claims segments
byte for byte against `jwt.encode`): the ECDSA signature from `cryptography` is most of the
cost, and PyJWT would add its key and header checks on every push.

Pushers ask with `sign_batched`: the tokens asked for in one turn of the event loop are signed
back to back. A P-256 signature reads large precomputed tables; signed between two pushes, or
between the claims and checksums of other tokens, they have left the CPU cache, and cost up to
twice as much (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import structlog
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gateway.ids import new_id
from gateway.store import signing_keys
from gateway.store.crypto import SecretBox

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "DT-Asymmetric-Signature"
TOKEN_LIFETIME = 300
ALGORITHM = "ES256"
ISSUER_PATH = "/data-connector"
DISCOVERY_PATH = ISSUER_PATH + "/.well-known/openid-configuration"
JWKS_PATH = ISSUER_PATH + "/.well-known/jwks.json"
_ECDSA = ec.ECDSA(hashes.SHA256())


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


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


def _load_private_key(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key is not an EC P-256 key")
    return key


def public_jwk(der: bytes, kid: str) -> dict[str, Any]:
    """The public half of a private key as a JWK (RFC 7518 §6.2)."""
    numbers = _load_private_key(der).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")).decode(),
        "y": _b64url(numbers.y.to_bytes(32, "big")).decode(),
        "use": "sig",
        "alg": ALGORITHM,
        "kid": kid,
    }


@dataclass(frozen=True)
class SigningKey:
    """The key pushes are signed with now; the private half never prints."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    header: bytes = field(repr=False)  # the token's header segment, base64url

    @classmethod
    def from_der(cls, kid: str, der: bytes) -> SigningKey:
        header = orjson.dumps(
            {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}, option=orjson.OPT_SORT_KEYS
        )
        return cls(kid, _load_private_key(der), _b64url(header))


class AsymmetricSigner:
    """Signs push bodies with the current key; `use` swaps the key when it is rotated."""

    def __init__(self, key: SigningKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer
        self._asked: list[tuple[bytes, str, float, asyncio.Future[str]]] = []

    def use(self, key: SigningKey) -> None:
        self.key = key

    def sign_batched(self, body: bytes, subject: str, now: float) -> asyncio.Future[str]:
        """`sign(body, subject, now)`, done together with the others asked for in this turn of
        the event loop."""
        loop = asyncio.get_running_loop()
        token = loop.create_future()
        if not self._asked:
            loop.call_soon(self._sign_asked)
        self._asked.append((body, subject, now, token))
        return token

    def _sign_asked(self) -> None:
        asked, self._asked = self._asked, []
        try:
            self._sign_all(asked)
        except Exception as error:  # fails these pushes, never leaves them waiting
            for *_, token in asked:
                if not token.done():
                    token.set_exception(error)

    def _sign_all(self, asked: list[tuple[bytes, str, float, asyncio.Future[str]]]) -> None:
        key = self.key
        # In three passes, so that the ECDSA signatures follow each other with their tables
        # in the cache (a sixth less per token than signing each in turn, docs/benchmarks.md).
        inputs = [self._signing_input(key, body, subject, now) for body, subject, now, _ in asked]
        signatures = [_ecdsa(key, signing_input) for signing_input in inputs]
        for (_, _, _, token), signing_input, signature in zip(
            asked, inputs, signatures, strict=True
        ):
            if token.done():  # its pusher was cancelled meanwhile
                continue
            if isinstance(signature, Exception):  # fails that push, never leaves others waiting
                token.set_exception(signature)
            else:
                token.set_result(_token(signing_input, signature))

    def sign(self, body: bytes, subject: str, now: float) -> str:
        """The `DT-Asymmetric-Signature` value for `body`, issued at `now`."""
        key = self.key
        signing_input = self._signing_input(key, body, subject, now)
        return _token(signing_input, key.private_key.sign(signing_input, _ECDSA))

    def _signing_input(self, key: SigningKey, body: bytes, subject: str, now: float) -> bytes:
        issued = int(now)
        claims = {
            "checksum_sha256": hashlib.sha256(body).hexdigest(),
            "exp": issued + TOKEN_LIFETIME,
            "iat": issued,
            "iss": self.issuer,
            "sub": subject,
        }
        return key.header + b"." + _b64url(orjson.dumps(claims))


def _ecdsa(key: SigningKey, signing_input: bytes) -> bytes | Exception:
    try:
        return key.private_key.sign(signing_input, _ECDSA)
    except Exception as error:
        return error


def _token(signing_input: bytes, der_signature: bytes) -> str:
    r, s = decode_dss_signature(der_signature)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants r | s, not DER
    return (signing_input + b"." + _b64url(signature)).decode()


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
    db: asyncpg.Pool, box: SecretBox, issuer: str, now: datetime
) -> AsymmetricSigner:
    """The signer with the shared current key, made now if this is the first start."""
    kid, der = await signing_keys.ensure(db, box, *_new_key_pair(), now)
    return AsymmetricSigner(SigningKey.from_der(kid, der), issuer)


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
