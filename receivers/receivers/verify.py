"""Verify a push: find the signature header, check the token, compare the body's checksum."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from receivers.errors import Reason, VerificationError
from receivers.push import Push, parse_push
from receivers.token import Claims, decode_token

SIGNATURE_HEADER = "X-Dt-Signature"
# Sender and receiver clocks drift; half a minute covers ordinary NTP-synchronised hosts.
DEFAULT_LEEWAY = 30.0

Body = bytes | bytearray | memoryview


class HeaderMap(Protocol):
    """Request headers: any `Mapping[str, str]`, Werkzeug's `Headers`, aiohttp's `CIMultiDict`."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def verify(
    body: Body,
    headers: HeaderMap,
    secret: str,
    *,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> Push:
    """Verify a push and parse it.

    `body` is the raw request body exactly as received; `headers` any mapping of the request's
    headers (the signature header is found whatever its case); `now` the current time in seconds
    since the epoch (defaults to the system clock). Every failure raises `VerificationError`.
    """
    verify_signature(body, headers, secret, now=now, leeway=leeway)
    return parse_push(bytes(body))


def verify_signature(
    body: Body,
    headers: HeaderMap,
    secret: str,
    *,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> Claims:
    """Check the signature of `body` without parsing it; returns the token's claims."""
    key = _secret_key(secret)
    raw = _body_bytes(body)
    token = find_signature(headers)
    claims = decode_token(token, key, now=time.time() if now is None else now, leeway=leeway)
    _check_checksum(claims, raw)
    return claims


def find_signature(headers: HeaderMap) -> str:
    """The `X-Dt-Signature` token in `headers`, matching the header name case-insensitively."""
    return find_header(headers, SIGNATURE_HEADER)


def find_header(headers: HeaderMap, header: str) -> str:
    """The one value of `header` in `headers`, whatever the name's case; VerificationError if
    it is missing, empty, not text or given twice with different values."""
    wanted = header.lower()
    found = [value for name, value in _header_items(headers) if _lower(name) == wanted]
    if not found:
        raise VerificationError(Reason.MISSING_SIGNATURE, f"no {header} header")
    if not all(isinstance(value, str) for value in found):
        raise VerificationError(Reason.MALFORMED_TOKEN, f"{header} is not text")
    tokens = {str(value).strip() for value in found}
    if len(tokens) > 1:
        raise VerificationError(Reason.MALFORMED_TOKEN, f"several different {header} headers")
    token = tokens.pop()
    if not token:
        raise VerificationError(Reason.MISSING_SIGNATURE, f"{header} is empty")
    return token


@dataclass(frozen=True)
class Verifier:
    """`verify` bound to one secret, leeway and clock; what the framework adapters hold.

    Raises `ValueError` at construction when the secret is empty, so a misconfigured receiver
    fails at start-up instead of rejecting every push.
    """

    secret: str = field(repr=False)
    leeway: float = DEFAULT_LEEWAY
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not isinstance(self.secret, str) or not self.secret:
            raise ValueError("the signature secret must be a non-empty string")

    def verify(self, body: Body, headers: HeaderMap) -> Push:
        """Verify and parse one push; see `verify`."""
        return verify(body, headers, self.secret, now=self.clock(), leeway=self.leeway)


def _secret_key(secret: object) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise VerificationError(Reason.SECRET_NOT_CONFIGURED, "the secret is empty or not text")
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise VerificationError(Reason.SECRET_NOT_CONFIGURED, "the secret is not UTF-8") from None


def body_bytes(body: object) -> bytes:
    """The raw body as bytes; VerificationError when it is not bytes-like."""
    return _body_bytes(body)


def _body_bytes(body: object) -> bytes:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise VerificationError(Reason.MALFORMED_BODY, "the body is not bytes")
    return bytes(body)


def _header_items(headers: object) -> list[tuple[object, object]]:
    items = getattr(headers, "items", None)
    if not callable(items):
        raise VerificationError(Reason.MISSING_SIGNATURE, "the headers are not a mapping")
    try:
        pairs = list(items())
    except (TypeError, ValueError):
        raise VerificationError(Reason.MISSING_SIGNATURE, "the headers are not a mapping") from None
    return [pair for pair in pairs if isinstance(pair, tuple) and len(pair) == 2]


def _lower(name: object) -> str | None:
    return name.lower() if isinstance(name, str) else None


def _check_checksum(claims: Claims, body: bytes) -> None:
    if claims.checksum_sha256 is not None:
        expected, claimed = hashlib.sha256(body).hexdigest(), claims.checksum_sha256
    else:
        expected, claimed = hashlib.sha1(body).hexdigest(), claims.checksum or ""
    if not claimed.isascii() or not hmac.compare_digest(expected, claimed):
        raise VerificationError(Reason.CHECKSUM_MISMATCH, "the body does not match the token")
