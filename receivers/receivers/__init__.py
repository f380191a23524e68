"""Verify and parse the pushes a Disruptive Technologies compatible data connector sends.

from receivers import VerificationError, verify

push = verify(raw_body, request_headers, secret)  # raises VerificationError, nothing else

Also: `verify_standard_webhooks` (Standard Webhooks), and `receivers.asymmetric.AsymmetricVerifier`
(DT-Asymmetric-Signature, no shared secret; the `asymmetric` extra).
"""

from receivers.dedupe import Deduplicator
from receivers.errors import Reason, VerificationError
from receivers.push import Event, Metadata, Push, parse_push
from receivers.standard_webhooks import StandardWebhooksVerifier, verify_standard_webhooks
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
    "StandardWebhooksVerifier",
    "VerificationError",
    "Verifier",
    "find_signature",
    "parse_push",
    "verify",
    "verify_signature",
    "verify_standard_webhooks",
]
