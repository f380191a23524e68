"""ES256 (ECDSA P-256 with SHA-256) as JWS wants it: the key a push is signed with, and the raw
`r | s` signature of a token's signing input. Imports nothing of the gateway's: the signing
worker's child process loads only this."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALGORITHM = "ES256"
_ECDSA = ec.ECDSA(hashes.SHA256())


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def load_private_key(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key is not an EC P-256 key")
    return key


def raw_signature(key: ec.EllipticCurvePrivateKey, signing_input: bytes) -> bytes:
    """The JWS signature: `r | s`, 32 bytes each, where `cryptography` gives DER."""
    r, s = decode_dss_signature(key.sign(signing_input, _ECDSA))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class SigningKey:
    """The key pushes are signed with now; the private half never prints."""

    kid: str
    der: bytes = field(repr=False)  # PKCS#8, as stored (sealed) and sent to the worker
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    header: bytes = field(repr=False)  # the token's header segment, base64url

    @classmethod
    def from_der(cls, kid: str, der: bytes) -> SigningKey:
        header = orjson.dumps(
            {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}, option=orjson.OPT_SORT_KEYS
        )
        return cls(kid, der, load_private_key(der), b64url(header))
