"""The ES256 encoder: the same header and claims segments as PyJWT, a signature PyJWT accepts."""

from __future__ import annotations

import asyncio
import hashlib

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_der_private_key
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.push.asymmetric import (
    TOKEN_LIFETIME,
    AsymmetricSigner,
    SigningKey,
    issuer,
    new_private_key,
    public_jwk,
)

DER = new_private_key()
KEY = SigningKey.from_der("cp65gdon1e4bhb5icbmg", DER)
PUBLIC = jwt.PyJWK(public_jwk(DER, KEY.kid)).key
ISSUER = "https://gw.example.com/data-connector"


def test_pyjwt_verifies_the_token_and_its_checksum() -> None:
    body = b'{"event":{"eventId":"x"},"labels":{},"metadata":{}}'
    token = AsymmetricSigner(KEY, ISSUER).sign(body, "project-1", 1_700_000_000)
    claims = jwt.decode(
        token, PUBLIC, algorithms=["ES256"], issuer=ISSUER, options={"verify_exp": False}
    )
    assert claims == {
        "checksum_sha256": hashlib.sha256(body).hexdigest(),
        "iat": 1_700_000_000,
        "exp": 1_700_000_000 + TOKEN_LIFETIME,
        "iss": ISSUER,
        "sub": "project-1",
    }
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY.kid, "typ": "JWT"}


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=300), subject=st.text(max_size=30), now=st.integers(0, 2**40))
def test_header_and_claims_are_byte_for_byte_pyjwts(body: bytes, subject: str, now: int) -> None:
    ours = AsymmetricSigner(KEY, ISSUER).sign(body, subject, now)
    claims = {
        "checksum_sha256": hashlib.sha256(body).hexdigest(),
        "exp": now + TOKEN_LIFETIME,
        "iat": now,
        "iss": ISSUER,
        "sub": subject,
    }
    private = load_der_private_key(DER, password=None)
    theirs = jwt.encode(claims, private, "ES256", headers={"kid": KEY.kid, "typ": "JWT"})
    if not all(" " <= char <= "~" for char in subject):
        # PyJWT escapes all but printable ASCII (\\uXXXX) where orjson writes UTF-8 (and DEL as
        # it is); both decode alike.
        assert jwt.decode(ours, PUBLIC, algorithms=["ES256"], options={"verify_exp": False,
                          "verify_iat": False})["sub"] == subject
        return
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    jwt.decode(ours, PUBLIC, algorithms=["ES256"], options={"verify_exp": False,
               "verify_iat": False})


def test_a_changed_body_or_key_does_not_verify() -> None:
    token = AsymmetricSigner(KEY, ISSUER).sign(b"{}", "p", 1_700_000_000)
    header, claims, signature = token.split(".")
    other = jwt.PyJWK(public_jwk(new_private_key(), "other")).key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["ES256"], options={"verify_exp": False})
    forged = f"{header}.{claims[:-2]}AA.{signature}"
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(forged, PUBLIC, algorithms=["ES256"], options={"verify_exp": False})


def test_the_issuer_falls_back_to_the_bound_address() -> None:
    assert issuer("https://gw.example.com/", "0.0.0.0", 8080) == ISSUER
    assert issuer(None, "127.0.0.1", 8080) == "http://127.0.0.1:8080/data-connector"
    assert issuer(None, "::1", 9000) == "http://[::1]:9000/data-connector"


def _checksum(token: str) -> str:
    claims = jwt.decode(
        token, PUBLIC, algorithms=["ES256"], issuer=ISSUER, options={"verify_exp": False}
    )
    return str(claims["checksum_sha256"])


async def test_tokens_asked_for_in_one_turn_of_the_loop_are_signed_together() -> None:
    signer = AsymmetricSigner(KEY, ISSUER)
    bodies = [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    tokens = [signer.sign_batched(body, "p", 1_700_000_000) for body in bodies]
    assert not any(token.done() for token in tokens)
    await asyncio.sleep(0)  # one turn signs them all
    assert all(token.done() for token in tokens)
    for body, token in zip(bodies, tokens, strict=True):
        assert _checksum(token.result()) == hashlib.sha256(body).hexdigest()


async def test_a_cancelled_or_failed_token_leaves_the_others_signed() -> None:
    class FailsSecond:
        """A private key whose second signature fails."""

        calls = 0

        def sign(self, data: bytes, algorithm: object) -> bytes:
            self.calls += 1
            if self.calls == 2:
                raise ValueError("no key")
            return KEY.private_key.sign(data, algorithm)  # type: ignore[arg-type]

    key = SigningKey(KEY.kid, FailsSecond(), KEY.header)  # type: ignore[arg-type]
    signer = AsymmetricSigner(key, ISSUER)
    cancelled, failed, signed = (signer.sign_batched(b, "p", 0) for b in (b"a", b"bad", b"c"))
    cancelled.cancel()
    with pytest.raises(ValueError, match="no key"):
        await failed
    assert _checksum(await signed) == hashlib.sha256(b"c").hexdigest()


async def test_a_failure_outside_the_signatures_fails_the_tokens_instead_of_leaving_them() -> None:
    broken = SigningKey(KEY.kid, KEY.private_key, None)  # type: ignore[arg-type]
    signer = AsymmetricSigner(broken, ISSUER)
    tokens = [signer.sign_batched(body, "p", 0) for body in (b"a", b"b")]
    for token in tokens:
        with pytest.raises(TypeError):
            await asyncio.wait_for(token, 5)
