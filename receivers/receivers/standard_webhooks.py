"""Verify Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

push = verify_standard_webhooks(raw_body, request_headers, "whsec_…")

`webhook-signature` may hold several space-separated `v1,<base64>` signatures (the sender signs
with an old and a new secret while they overlap); one matching signature suffices, and several
secrets may be given on this side too. The timestamp must be within 5 minutes of now. Unlike the
reference library, malformed input raises only VerificationError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from receivers.errors import Reason, VerificationError
from receivers.push import Push, parse_push
from receivers.verify import Body, HeaderMap, body_bytes, find_header

ID_HEADER, TIMESTAMP_HEADER = "webhook-id", "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE = 300.0
PREFIX = "whsec_"
MAX_SIGNATURES = 16
MAX_HEADER = 4096


def _key(secret: object) -> bytes:
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise VerificationError(Reason.SECRET_NOT_CONFIGURED, "the secret is not whsec_…")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(Reason.SECRET_NOT_CONFIGURED, "the secret is not base64") from None
    if not key:
        raise VerificationError(Reason.SECRET_NOT_CONFIGURED, "the secret is empty")
    return key


def _keys(secrets: str | Sequence[str]) -> list[bytes]:
    listed = [secrets] if isinstance(secrets, str) else secrets
    if not isinstance(listed, Sequence) or not listed:
        raise VerificationError(Reason.SECRET_NOT_CONFIGURED, "no secret given")
    return [_key(secret) for secret in listed]


def _timestamp(headers: HeaderMap, now: float, tolerance: float) -> int:
    text = find_header(headers, TIMESTAMP_HEADER)
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise VerificationError(Reason.MALFORMED_TOKEN, "webhook-timestamp is not a number")
    stamp = int(text)
    if stamp < now - tolerance:
        raise VerificationError(Reason.EXPIRED, "webhook-timestamp is too old")
    if stamp > now + tolerance:
        raise VerificationError(Reason.NOT_YET_VALID, "webhook-timestamp is in the future")
    return stamp


def _signatures(headers: HeaderMap) -> list[bytes]:
    text = find_header(headers, SIGNATURE_HEADER)
    if len(text) > MAX_HEADER or not text.isascii():
        raise VerificationError(Reason.MALFORMED_TOKEN, "webhook-signature is malformed")
    found = []
    for item in text.split(" ")[:MAX_SIGNATURES]:
        version, _, encoded = item.partition(",")
        if version != "v1":
            continue  # other schemes (v1a: Ed25519) are not ours to check
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify_standard_webhooks(
    body: Body,
    headers: HeaderMap,
    secrets: str | Sequence[str],
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE,
) -> Push:
    """Verify a Standard Webhooks push and parse it; every failure raises VerificationError."""
    keys = _keys(secrets)
    raw = body_bytes(body)
    message_id = find_header(headers, ID_HEADER)
    if not message_id.isascii() or len(message_id) > 256:
        raise VerificationError(Reason.MALFORMED_TOKEN, "webhook-id is malformed")
    stamp = _timestamp(headers, time.time() if now is None else now, tolerance)
    signed = f"{message_id}.{stamp}.".encode() + raw
    expected = [hmac.digest(key, signed, hashlib.sha256) for key in keys]
    given = _signatures(headers)
    if not any(hmac.compare_digest(a, b) for a in expected for b in given):
        raise VerificationError(Reason.BAD_SIGNATURE, "no signature matches")
    return parse_push(raw)


@dataclass(frozen=True)
class StandardWebhooksVerifier:
    """`verify_standard_webhooks` bound to secrets and a clock; for the framework adapters."""

    secrets: tuple[str, ...] = field(repr=False)
    tolerance: float = TOLERANCE
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        try:
            _keys(self.secrets)  # a wrong secret fails here, at start-up
        except VerificationError as error:
            raise ValueError(error.detail) from None

    def verify(self, body: Body, headers: HeaderMap) -> Push:
        return verify_standard_webhooks(
            body, headers, self.secrets, now=self.clock(), tolerance=self.tolerance
        )
