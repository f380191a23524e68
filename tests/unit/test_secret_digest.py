"""Why storing a secret's SHA-256 is enough to verify the SDK's HS256 assertions."""

import hashlib
import hmac
import secrets

import jwt

from gateway.api.auth import digest


def test_secrets_are_longer_than_the_hmac_block() -> None:
    # The gateway makes them with token_urlsafe(64): 86 characters, past SHA-256's 64-byte block.
    assert len(secrets.token_urlsafe(64).encode()) > hashlib.sha256().block_size


def test_hmac_keys_a_long_secret_by_its_digest() -> None:
    secret = secrets.token_urlsafe(64)
    message = b"header.payload"
    by_secret = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    by_digest = hmac.new(digest(secret), message, hashlib.sha256).digest()
    assert by_secret == by_digest


def test_an_assertion_signed_with_the_secret_verifies_with_the_digest() -> None:
    secret = secrets.token_urlsafe(64)
    token = jwt.encode({"iss": "a"}, secret, algorithm="HS256")
    assert jwt.decode(token, digest(secret), algorithms=["HS256"]) == {"iss": "a"}
