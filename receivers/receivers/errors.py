"""The one error every failed verification raises, and its reason codes."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a push was rejected; stable codes safe to log and count."""

    SECRET_NOT_CONFIGURED = "secret_not_configured"
    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_TOKEN = "malformed_token"
    BAD_SIGNATURE = "bad_signature"
    INVALID_CLAIMS = "invalid_claims"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MALFORMED_BODY = "malformed_body"
    INVALID_PUSH = "invalid_push"
    KEYS_UNAVAILABLE = "keys_unavailable"
    UNKNOWN_KEY = "unknown_key"


class VerificationError(Exception):
    """A push could not be verified or parsed.

    `reason` is a stable code; `detail` is a short human explanation. Neither ever contains the
    secret or the signature token.
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
