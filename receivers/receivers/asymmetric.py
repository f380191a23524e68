"""Verify `DT-Asymmetric-Signature`: an ES256 JWT checked against the sender's published keys,
so the receiver holds no shared secret. Needs the `asymmetric` extra (PyJWT's crypto support):
`pip install 'data-connector-receivers[asymmetric]'`.

verifier = AsymmetricVerifier("https://gw.example.com/data-connector/.well-known/openid-configuration")
push = verifier.verify(raw_body, request_headers)  # raises VerificationError, nothing else

The discovery document and its JWKS are fetched with a timeout on first use and cached; a token
naming an unknown `kid` (after a key rotation) fetches them again, at most once a minute. A
receiver without outbound access pins the key set and the issuer instead (`jwks=`, `issuer=`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import jwt

try:
    from jwt.algorithms import ECAlgorithm
except ImportError as missing:  # PyJWT without `cryptography`
    raise ImportError(
        "the asymmetric verifier needs 'data-connector-receivers[asymmetric]'"
    ) from missing

from receivers.errors import Reason, VerificationError
from receivers.push import Push, parse_push
from receivers.token import MAX_TOKEN_LENGTH, Claims, checked_claims, translate
from receivers.verify import DEFAULT_LEEWAY, Body, HeaderMap, body_bytes, find_header

ASYMMETRIC_HEADER = "DT-Asymmetric-Signature"
ALGORITHM = "ES256"
DT_DISCOVERY_URL = (
    "https://identity.disruptive-technologies.com/data-connector/.well-known/openid-configuration"
)
REFETCH_INTERVAL = 60.0  # seconds: at most one fetch a minute for unknown key ids
MAX_DOCUMENT = 1 << 20

_JWS = jwt.PyJWS(algorithms=[])
_JWS.register_algorithm(ALGORITHM, ECAlgorithm(ECAlgorithm.SHA256))


def _fetch_json(url: str, timeout: float) -> Any:
    if not url.startswith(("https://", "http://")):
        raise VerificationError(Reason.KEYS_UNAVAILABLE, "the key URL is not http(s)")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return json.loads(answer.read(MAX_DOCUMENT))
    except (OSError, ValueError):
        detail = "the signing keys cannot be fetched"
        raise VerificationError(Reason.KEYS_UNAVAILABLE, detail) from None


def _public_keys(jwks: Any) -> dict[str, Any]:
    """The usable P-256 keys of a JWKS, by kid; anything else in it is skipped."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise VerificationError(Reason.KEYS_UNAVAILABLE, "the key set is not a JWKS")
    found = {}
    for jwk in keys:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            found[kid] = ECAlgorithm.from_jwk(dict(jwk))
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
    return found


class AsymmetricVerifier:
    """Verifies pushes against a discovery URL, or against a pinned JWKS and issuer.

    `subject`, when given, must equal the token's `sub` (the sender's project or organisation).
    `clock` returns seconds since the epoch; tokens are accepted `leeway` seconds either side.
    """

    def __init__(
        self,
        discovery_url: str | None = None,
        *,
        jwks: Mapping[str, Any] | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        timeout: float = 5.0,
        leeway: float = DEFAULT_LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (discovery_url is None) == (jwks is None):
            raise ValueError("give either a discovery URL or a pinned JWKS (with its issuer)")
        if jwks is not None and not issuer:
            raise ValueError("a pinned JWKS needs the issuer its tokens carry")
        self._discovery_url = discovery_url
        self._issuer = issuer
        self._subject = subject
        self._timeout = timeout
        self._leeway = leeway
        self._clock = clock
        self._keys: dict[str, Any] = {} if jwks is None else _public_keys(jwks)
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def verify(self, body: Body, headers: HeaderMap) -> Push:
        """Verify one push and parse it; every failure raises VerificationError."""
        self.verify_signature(body, headers)
        return parse_push(body_bytes(body))

    def verify_signature(self, body: Body, headers: HeaderMap) -> Claims:
        """Check the token and the body's checksum without parsing the body."""
        raw = body_bytes(body)
        token = find_header(headers, ASYMMETRIC_HEADER)
        if not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
            raise VerificationError(Reason.MALFORMED_TOKEN, "the token is not a compact JWT")
        try:
            header = _JWS.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise translate(error) from None
        if header.get("alg") != ALGORITHM:
            raise VerificationError(Reason.BAD_SIGNATURE, "the token is not signed with ES256")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise VerificationError(Reason.MALFORMED_TOKEN, "the token names no key")
        key, issuer = self._key(kid)
        try:
            payload: bytes = _JWS.decode_complete(token, key, algorithms=[ALGORITHM])["payload"]
        except jwt.PyJWTError as error:
            raise translate(error) from None
        claims = checked_claims(payload, now=self._clock(), leeway=self._leeway)
        self._check(claims, issuer, raw)
        return claims

    def _check(self, claims: Claims, issuer: str, body: bytes) -> None:
        if claims.issuer != issuer:
            raise VerificationError(Reason.INVALID_CLAIMS, "the token's issuer is not the sender")
        if self._subject is not None and claims.subject != self._subject:
            raise VerificationError(Reason.INVALID_CLAIMS, "the token is for another subject")
        claimed = claims.checksum_sha256
        if claimed is None:
            raise VerificationError(Reason.INVALID_CLAIMS, "the token carries no SHA-256 checksum")
        expected = hashlib.sha256(body).hexdigest()
        if not claimed.isascii() or not hmac.compare_digest(expected, claimed):
            raise VerificationError(Reason.CHECKSUM_MISMATCH, "the body does not match the token")

    def _key(self, kid: str) -> tuple[Any, str]:
        with self._lock:
            if kid not in self._keys and self._may_fetch():
                self._fetch()
            key = self._keys.get(kid)
            if key is None:
                raise VerificationError(Reason.UNKNOWN_KEY, "the token's key is not published")
            assert self._issuer is not None
            return key, self._issuer

    def _may_fetch(self) -> bool:
        if self._discovery_url is None:
            return False
        return self._fetched_at is None or self._clock() - self._fetched_at >= REFETCH_INTERVAL

    def _fetch(self) -> None:
        assert self._discovery_url is not None
        self._fetched_at = self._clock()
        document = _fetch_json(self._discovery_url, self._timeout)
        jwks_uri = document.get("jwks_uri") if isinstance(document, Mapping) else None
        issuer = document.get("issuer") if isinstance(document, Mapping) else None
        if not isinstance(jwks_uri, str) or not isinstance(issuer, str):
            raise VerificationError(Reason.KEYS_UNAVAILABLE, "the discovery document is invalid")
        self._keys = _public_keys(_fetch_json(jwks_uri, self._timeout))
        self._issuer = self._issuer or issuer
