"""The push signature: an HS256 JWT whose claims carry checksums of the exact body bytes.

Receivers verify it with DT's recipe: `jwt.decode(token, secret, algorithms=["HS256"])`, then
compare `checksum` (SHA-1 hex) or `checksum_sha256` (SHA-256 hex) with the raw body they received.

A token is signed for every push attempt, so the encoder is a small one (a fifth of PyJWT's
cost, most of which goes to checks that only matter for keys and algorithms read from outside).
Its tokens are byte-for-byte those of `jwt.encode(claims, secret, "HS256", {"typ": "JWT"})`, which
the tests check. This module imports nothing of the gateway's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import time
from functools import lru_cache

import orjson

SIGNATURE_HEADER = "X-Dt-Signature"
TOKEN_LIFETIME = 3600
# base64url of {"alg":"HS256","typ":"JWT"}, the header PyJWT writes for these arguments.
_HEADER = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"


# A random prefix per process and a counter: unique without a system call per token.
_TOKEN_PREFIX = os.urandom(8).hex()
_TOKEN_COUNTER = itertools.count()


def new_token_id() -> str:
    """A fresh id for the `jti` claim (never the event id)."""
    return f"{_TOKEN_PREFIX}{next(_TOKEN_COUNTER):08x}"


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@lru_cache(maxsize=4096)
def _keyed(secret: str) -> hmac.HMAC:
    """An HMAC already keyed with `secret`; copies of it sign without re-hashing the key."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def encode_hs256(claims: dict[str, object], secret: str) -> str:
    """A compact HS256 JWT with header {"alg":"HS256","typ":"JWT"}."""
    signing_input = _HEADER + b"." + _b64url(orjson.dumps(claims))
    mac = _keyed(secret).copy()
    mac.update(signing_input)
    return (signing_input + b"." + _b64url(mac.digest())).decode()


def sign_body(body: bytes, secret: str, *, now: float | None = None) -> str:
    """The `X-Dt-Signature` value for `body`, signed with `secret`."""
    issued = int(time.time() if now is None else now)
    claims = {
        "checksum": hashlib.sha1(body).hexdigest(),
        "checksum_sha256": hashlib.sha256(body).hexdigest(),
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME,
        "jti": new_token_id(),
    }
    return encode_hs256(claims, secret)
