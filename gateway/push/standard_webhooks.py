"""Standard Webhooks signatures (https://www.standardwebhooks.com/): `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

The secret is `whsec_` + base64 of 24 to 64 random bytes; the HMAC key is those bytes. While an
old secret overlaps a new one, both sign, space-separated, as the specification allows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from gateway.model import WebhookSecret

PREFIX = "whsec_"
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64
ID_HEADER, TIMESTAMP_HEADER = "webhook-id", "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def new_secret() -> str:
    """A fresh secret: `whsec_` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError saying what is wrong with it."""
    if not secret.startswith(PREFIX):
        raise ValueError("must start with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be whsec_ followed by base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(f"must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes after whsec_")
    return key


def signing_secrets(secrets_: Iterable[WebhookSecret], now: datetime) -> list[str]:
    """The secrets that sign at `now`: the current one, and replaced ones still overlapping."""
    return [item.secret for item in secrets_ if item.expires_at is None or item.expires_at > now]


def signature_headers(
    message_id: str, body: bytes, timestamp: int, secrets_: Iterable[str]
) -> dict[str, str]:
    """The three headers for one attempt of one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    signatures = " ".join(
        "v1," + base64.b64encode(hmac.digest(secret_key(secret), signed, hashlib.sha256)).decode()
        for secret in secrets_
    )
    return {ID_HEADER: message_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signatures}
