import hashlib

import jwt
import pytest

from gateway.push.signing import TOKEN_LIFETIME, sign_body

SECRET = "a-secret-long-enough-for-hs256-keys"


def test_dt_recipe_verifies_the_signature() -> None:
    body = b'{"event":{"eventId":"x"},"labels":{},"metadata":{}}'
    claims = jwt.decode(sign_body(body, SECRET), SECRET, algorithms=["HS256"])
    assert claims["checksum"] == hashlib.sha1(body).hexdigest()
    assert claims["checksum_sha256"] == hashlib.sha256(body).hexdigest()


def test_header_and_lifetime() -> None:
    token = sign_body(b"{}", SECRET, now=1_700_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_000 + TOKEN_LIFETIME


def test_every_token_has_a_fresh_id() -> None:
    ids = {jwt.decode(sign_body(b"{}", SECRET), SECRET, algorithms=["HS256"])["jti"]
           for _ in range(50)}
    assert len(ids) == 50


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(sign_body(b"{}", SECRET), SECRET + "x", algorithms=["HS256"])


def test_tokens_are_byte_for_byte_pyjwts() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from gateway.push.signing import encode_hs256

    @given(
        body=st.binary(max_size=2048),
        secret=st.text(min_size=1, max_size=80),
        issued=st.integers(min_value=0, max_value=2**33),
        jti=st.text(alphabet="0123456789abcdef", max_size=30),  # as new_token_id() makes
    )
    def check(body: bytes, secret: str, issued: int, jti: str) -> None:
        claims = {
            "checksum": hashlib.sha1(body).hexdigest(),
            "checksum_sha256": hashlib.sha256(body).hexdigest(),
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
            "jti": jti,
        }
        expected = pyjwt_encode(claims, secret)
        assert encode_hs256(claims, secret) == expected

    check()


def pyjwt_encode(claims: dict[str, object], secret: str) -> str:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about short HMAC keys; the bytes matter here
        return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})
