"""The `X-Dt-Signature` token: an HS256 JWT whose claims carry checksums of the body."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NoReturn

import jwt
from jwt.algorithms import HMACAlgorithm

from receivers.errors import Reason, VerificationError

ALGORITHM = "HS256"
# DT's tokens are about 350 characters; the cap bounds the work an unauthenticated caller can cause.
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified claims of a signature token; times are seconds since the epoch."""

    checksum_sha256: str | None
    checksum: str | None
    issued_at: float
    expires_at: float
    not_before: float | None
    token_id: str | None
    issuer: str | None = None
    subject: str | None = None


class _HS256(HMACAlgorithm):
    # DT accepts signature secrets of any length, so PyJWT's short-key warning would fire on
    # every push of many real connectors; the key is the user's choice, not ours to police.
    def check_key_length(self, key: Any) -> str | None:
        return None


def _pinned_jws() -> jwt.PyJWS:
    jws = jwt.PyJWS(algorithms=[])
    jws.register_algorithm(ALGORITHM, _HS256(HMACAlgorithm.SHA256))
    return jws


_JWS = _pinned_jws()

# Most specific first: InvalidSignatureError is itself a DecodeError.
_JWT_ERRORS: tuple[tuple[type[jwt.PyJWTError], Reason, str], ...] = (
    (jwt.InvalidSignatureError, Reason.BAD_SIGNATURE, "the signature does not match"),
    (jwt.InvalidAlgorithmError, Reason.BAD_SIGNATURE, "the token is not signed with HS256"),
    (jwt.InvalidKeyError, Reason.SECRET_NOT_CONFIGURED, "the secret is unusable as an HMAC key"),
)


def decode_token(token: str, key: bytes, *, now: float, leeway: float) -> Claims:
    """Check the token's HS256 signature with `key`, its claim types and its validity window."""
    return checked_claims(_signed_payload(token, key), now=now, leeway=leeway)


def checked_claims(payload: bytes, *, now: float, leeway: float) -> Claims:
    """The claims of a verified token's payload, once their types and validity window hold."""
    claims = _parse_claims(payload)
    _check_window(claims, now, leeway)
    return claims


def _signed_payload(token: str, key: bytes) -> bytes:
    if not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
        raise VerificationError(Reason.MALFORMED_TOKEN, "the token is not a compact JWT")
    try:
        decoded = _JWS.decode_complete(token, key, algorithms=[ALGORITHM])
    except jwt.PyJWTError as error:
        raise _translate(error) from None
    payload: bytes = decoded["payload"]
    return payload


def translate(error: jwt.PyJWTError) -> VerificationError:
    """PyJWT's error as ours."""
    return _translate(error)


def _translate(error: jwt.PyJWTError) -> VerificationError:
    for kind, reason, detail in _JWT_ERRORS:
        if isinstance(error, kind):
            return VerificationError(reason, detail)
    return VerificationError(Reason.MALFORMED_TOKEN, "the token cannot be decoded")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _parse_claims(payload: bytes) -> Claims:
    try:
        claims = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise VerificationError(Reason.MALFORMED_TOKEN, "the token's claims are not JSON") from None
    if not isinstance(claims, dict):
        raise VerificationError(Reason.MALFORMED_TOKEN, "the token's claims are not an object")
    sha256, sha1 = _text(claims, "checksum_sha256"), _text(claims, "checksum")
    if sha256 is None and sha1 is None:
        raise VerificationError(Reason.INVALID_CLAIMS, "the token carries no checksum")
    return Claims(
        checksum_sha256=sha256,
        checksum=sha1,
        issued_at=_required_time(claims, "iat"),
        expires_at=_required_time(claims, "exp"),
        not_before=_time(claims, "nbf"),
        token_id=_text(claims, "jti"),
        issuer=_text(claims, "iss"),
        subject=_text(claims, "sub"),
    )


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise VerificationError(Reason.INVALID_CLAIMS, f"claim {name!r} is not a string")


def _time(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VerificationError(Reason.INVALID_CLAIMS, f"claim {name!r} is not a number")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise VerificationError(Reason.INVALID_CLAIMS, f"claim {name!r} is out of range")
    return seconds


def _required_time(claims: dict[str, Any], name: str) -> float:
    seconds = _time(claims, name)
    if seconds is None:
        raise VerificationError(Reason.INVALID_CLAIMS, f"claim {name!r} is missing")
    return seconds


def _check_window(claims: Claims, now: float, leeway: float) -> None:
    if claims.expires_at <= now - leeway:
        raise VerificationError(Reason.EXPIRED, "the token has expired")
    starts = claims.issued_at
    if claims.not_before is not None:
        starts = max(starts, claims.not_before)
    if starts > now + leeway:
        raise VerificationError(Reason.NOT_YET_VALID, "the token is not valid yet")
