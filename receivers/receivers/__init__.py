"""Verify and parse the pushes a Disruptive Technologies compatible data connector sends.

from receivers import VerificationError, verify

push = verify(raw_body, request_headers, secret)  # raises VerificationError, nothing else
"""

from receivers.dedupe import Deduplicator
from receivers.errors import Reason, VerificationError
from receivers.push import Event, Metadata, Push, parse_push
from receivers.token import Claims
from receivers.verify import (
    DEFAULT_LEEWAY,
    SIGNATURE_HEADER,
    Body,
    HeaderMap,
    Verifier,
    find_signature,
    verify,
    verify_signature,
)

__all__ = [
    "DEFAULT_LEEWAY",
    "SIGNATURE_HEADER",
    "Body",
    "Claims",
    "Deduplicator",
    "Event",
    "HeaderMap",
    "Metadata",
    "Push",
    "Reason",
    "VerificationError",
    "Verifier",
    "find_signature",
    "parse_push",
    "verify",
    "verify_signature",
]
