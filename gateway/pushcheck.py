"""Checking a push as a receiver does: its signatures, then its body. Used by `listen` and the demo.

Each signature header has its own check in `CHECKS`. A push is verified when at least one
signature header is present and every present one checks out; the verdict names the failure.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson

HS256_HEADER = "X-Dt-Signature"
LEEWAY = 30  # seconds of clock difference tolerated in `iat` and `exp`


@dataclass(frozen=True)
class Keys:
    """What a receiver verifies with: the connector's signature secret (HS256)."""

    secret: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one push: the verified schemes, or why it failed."""

    schemes: tuple[str, ...] = ()
    failure: str = ""
    push: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return bool(self.schemes) and not self.failure


class CheckFailed(Exception):
    """One signature did not verify; the message says why (no secret or token in it)."""


def check_hs256(body: bytes, token: str, keys: Keys) -> None:
    """DT's signature: an HS256 JWT whose claims carry the SHA-256 (or SHA-1) of the body."""
    try:
        claims = jwt.decode(
            token, keys.secret, algorithms=["HS256"], leeway=LEEWAY,
            options={"require": ["iat", "exp"]},
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise CheckFailed("expired token") from None
    except jwt.InvalidSignatureError:
        raise CheckFailed("bad signature (a different secret?)") from None
    except jwt.PyJWTError as error:
        raise CheckFailed(f"malformed token: {type(error).__name__}") from None
    expected, digest = claims.get("checksum_sha256"), hashlib.sha256(body).hexdigest()
    if not isinstance(expected, str):
        expected, digest = claims.get("checksum"), hashlib.sha1(body).hexdigest()
    if not isinstance(expected, str) or not hmac.compare_digest(expected, digest):
        raise CheckFailed("checksum mismatch: the body is not the one signed")


# One entry per signature scheme: the header that carries it and its check.
CHECKS: dict[str, tuple[str, Callable[[bytes, str, Keys], None]]] = {
    "HS256": (HS256_HEADER, check_hs256),
}


def check_push(body: bytes, headers: Mapping[str, str], keys: Keys) -> Verdict:
    """Check every signature the push carries, then parse its body."""
    schemes: list[str] = []
    for scheme, (header, check) in CHECKS.items():
        token = headers.get(header)
        if token is None:
            continue
        try:
            check(body, token, keys)
        except CheckFailed as failure:
            return Verdict(tuple(schemes), f"{scheme}: {failure}")
        schemes.append(scheme)
    if not schemes:
        return Verdict(failure="no signature header")
    try:
        push = orjson.loads(body)
        if not isinstance(push, dict) or not isinstance(push.get("event"), dict):
            raise ValueError("no event")
    except ValueError:
        return Verdict(tuple(schemes), "the body is not a push")
    return Verdict(tuple(schemes), push=push)
