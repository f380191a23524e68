"""Round trips: DT's requests and recipe against `verify`, and the gateway against DT's recipe."""

from __future__ import annotations

import hashlib
import json
import time

import jwt
import pytest
from gateway.push.signing import SIGNATURE_HEADER, sign_body
from receivers_testkit import SECRET, dt_claims, dt_token, push_body

from receivers import Reason, VerificationError, verify

# Two requests DT's cloud really sent (2022 and 2024), signed with the secret "test-secret",
# as published in DT's receiver library tests (disruptive-technologies/python-integrations).
DT_SECRET = "test-secret"
DT_TOUCH_BODY = (
    b'{"event":{"eventId":"c82gg9catj3vmh4248og","targetName":"projects/c14u9p094l47cdv1o3pg/'
    b'devices/emuc17m6d7lq0bgk44smcqg","eventType":"touch","data":{"touch":{"updateTime":'
    b'"2022-02-10T12:42:13.313949Z"}},"timestamp":"2022-02-10T12:42:13.313949Z"},"labels":'
    b'{"name":"touch"},"metadata":{"deviceId":"emuc17m6d7lq0bgk44smcqg","projectId":'
    b'"c14u9p094l47cdv1o3pg","deviceType":"touch","productNumber":""}}'
)
DT_TOUCH_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjaGVja3N1bSI6ImYyYjVkYzA0OTY0MzcyMDFkM2NlZTE1NmMyMz"
    "NhMTMzNTYwM2Q0NjUiLCJjaGVja3N1bV9zaGEyNTYiOiJhZmQ4MWExNmJiOWMwNzZlNTdmOTI3MjhmMjg0ZmY1NTgzMW"
    "JmZGYxZDNjMmMxMGI4MzM1NjdmNTIxZDc4MmRlIiwiZXhwIjoxNjQ0NTAwNTMzLCJpYXQiOjE2NDQ0OTY5MzMsImp0aS"
    "I6ImM4MmdnOTloZ2EzNWpjMmFma2VnIn0.gm8m_HrhlOnAyS08CfR_RNYdZQIpGV6E8bk3UiAR3uo"
)
DT_TOUCH_IAT = 1644496933
DT_TEMPERATURE_BODY = (
    b'{"event":{"eventId":"cpbg96qngr7ai7ldarrg","targetName":"projects/ccol8iuk9smqiha4e8l0/'
    b'devices/emucdd6ef2eu277bo8f52vg","eventType":"temperature","data":{"temperature":{"value"'
    b':27,"updateTime":"2024-05-29T10:34:03.970415Z","samples":[{"value":27,"sampleTime":'
    b'"2024-05-29T10:34:03.970415Z"}],"isBackfilled":false}},"timestamp":'
    b'"2024-05-29T10:34:03.970415Z"},"labels":{"name":"test temp"},"metadata":{"deviceId":'
    b'"emucdd6ef2eu277bo8f52vg","projectId":"ccol8iuk9smqiha4e8l0","deviceType":"temperature",'
    b'"productNumber":""}}'
)
DT_TEMPERATURE_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjaGVja3N1bSI6IjBmNzUzOTM5YTEzNzdhM2M5NGFiZDJjZmViZG"
    "MyY2I0NzU2YzNmYzMiLCJjaGVja3N1bV9zaGEyNTYiOiI1YjVmYzJlN2M3NjM3YWIzN2RiNDJiNzQ1YmY2ZjEyOWZhZT"
    "k3ODJmOTUzZWQzZGM2NDM1YzMyMTQ4ZjQxNWQ0IiwiZXhwIjoxNzE2OTgyNDQzLCJpYXQiOjE3MTY5Nzg4NDMsImp0aS"
    "I6ImNwYmc5NnQxaXNqbHIydmRvcmMwIn0.A4r91SKDW4IqYtb1eXuTQCUxM6GnouPbt94Ywd-vCpU"
)
DT_TEMPERATURE_IAT = 1716978843

DT_REQUESTS = [
    (DT_TOUCH_BODY, DT_TOUCH_TOKEN, DT_TOUCH_IAT),
    (DT_TEMPERATURE_BODY, DT_TEMPERATURE_TOKEN, DT_TEMPERATURE_IAT),
]


def dt_recipe(body: bytes, token: str, secret: str, *, checksum: str) -> bool:
    """DT's published receiver check, word for word (PyJWT decode, then compare a checksum)."""
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    digest = hashlib.sha256 if checksum == "checksum_sha256" else hashlib.sha1
    return bool(digest(body).hexdigest() == claims[checksum])


@pytest.mark.parametrize(("body", "token", "iat"), DT_REQUESTS)
def test_requests_dt_really_sent_verify(body: bytes, token: str, iat: int) -> None:
    push = verify(body, {"x-dt-signature": token}, DT_SECRET, now=iat + 5)

    assert push.event.event_id == json.loads(body)["event"]["eventId"]


@pytest.mark.parametrize(("body", "token", "iat"), DT_REQUESTS)
def test_requests_dt_really_sent_expire_after_an_hour(body: bytes, token: str, iat: int) -> None:
    with pytest.raises(VerificationError) as caught:
        verify(body, {"X-Dt-Signature": token}, DT_SECRET, now=iat + 3600 + 60)

    assert caught.value.reason is Reason.EXPIRED


@pytest.mark.parametrize("sha1_only", [False, True])
def test_tokens_made_by_dts_recipe_verify(sha1_only: bool) -> None:
    body = push_body("temperature", data={"temperature": {"value": 21.5}})
    iat = int(time.time())
    token = dt_token(dt_claims(body, iat, sha1_only=sha1_only), DT_SECRET)

    assert verify(body, {"X-Dt-Signature": token}, DT_SECRET).event.event_type == "temperature"


@pytest.mark.parametrize("checksum", ["checksum_sha256", "checksum"])
def test_gateway_pushes_pass_dts_recipe(checksum: str) -> None:
    body = push_body("co2", data={"co2": {"ppm": 612, "updateTime": "2024-01-01T00:00:00Z"}})

    assert dt_recipe(body, sign_body(body, SECRET), SECRET, checksum=checksum)


def test_gateway_pushes_verify() -> None:
    body = push_body("motion", data={"motion": {"state": "MOTION_DETECTED", "updateTime": "x"}})

    push = verify(body, {SIGNATURE_HEADER: sign_body(body, SECRET)}, SECRET)

    assert push.event.payload == {"state": "MOTION_DETECTED", "updateTime": "x"}


def test_gateway_tokens_carry_dts_header_and_claims() -> None:
    body = push_body()
    token = sign_body(body, SECRET, now=1_700_000_000)

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] == claims["iat"] + 3600 == 1_700_003_600
    assert claims["jti"] != json.loads(body)["event"]["eventId"]


def test_a_gateway_push_signed_with_another_secret_fails_both_ways() -> None:
    body = push_body()
    token = sign_body(body, "a-different-secret-that-is-long-enough-000")

    with pytest.raises(jwt.InvalidSignatureError):
        dt_recipe(body, token, SECRET, checksum="checksum_sha256")
    with pytest.raises(VerificationError) as caught:
        verify(body, {SIGNATURE_HEADER: token}, SECRET)
    assert caught.value.reason is Reason.BAD_SIGNATURE
