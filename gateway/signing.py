"""The push signature: an HS256 JWT whose claims carry checksums of the exact body bytes.

Receivers verify it with DT's recipe: `jwt.decode(token, secret, algorithms=["HS256"])`, then
compare `checksum` (SHA-1 hex) or `checksum_sha256` (SHA-256 hex) with the raw body they received.
This module imports nothing of the gateway's.
"""

from __future__ import annotations

import hashlib
import os
import time

import jwt

SIGNATURE_HEADER = "X-Dt-Signature"
TOKEN_LIFETIME = 3600


def new_token_id() -> str:
    """A fresh random id for the `jti` claim (never the event id)."""
    return os.urandom(12).hex()


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
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})
