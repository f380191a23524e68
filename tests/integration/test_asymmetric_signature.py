"""DT-Asymmetric-Signature end to end: receivers written to DT's recipe (PyJWT's PyJWKClient over
the served discovery document) verify real pushes; rotation keeps old tokens verifiable."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
from datetime import datetime
from typing import Any

import jwt
import orjson
import pytest
import time_machine

from gateway.app import SIGNER
from gateway.push import asymmetric
from gateway.store import create_pool
from tests.harness import Gateway, configured
from tests.receiver import Answer, Received, Receiver


def dt_recipe(discovery_url: str, push: Received, moment: datetime) -> dict[str, Any]:
    """DT's receiver code (dtintegrations 0.7): discovery → PyJWKClient → decode → checksum."""
    with urllib.request.urlopen(discovery_url, timeout=5) as answer:
        config = orjson.loads(answer.read())
    token = push.headers["DT-Asymmetric-Signature"]
    with time_machine.travel(moment, tick=False):  # the receiver's clock at the push
        key = jwt.PyJWKClient(config["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=config["id_token_signing_alg_values_supported"],
            issuer=config["issuer"],
        )
    if hashlib.sha256(push.body).hexdigest() != claims["checksum_sha256"]:
        raise ValueError("checksum mismatch")
    return claims


def discovery_url(gateway: Gateway) -> str:
    return str(gateway.client.make_url(asymmetric.DISCOVERY_PATH))


async def test_dt_recipe_verifies_the_first_push_and_a_retry_five_minutes_later(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    receiver.script("/hook", Answer(500), Answer(200))
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    moments = []
    for _ in range(2):
        moments.append(gateway.clock())
        assert await gateway.deliver() == 1
        gateway.clock.advance(300)

    first, retry = receiver.at("/hook")
    url = discovery_url(gateway)
    claims = [await asyncio.to_thread(dt_recipe, url, push, moment)
              for push, moment in zip((first, retry), moments, strict=True)]
    assert [claim["iat"] for claim in claims] == [int(m.timestamp()) for m in moments]
    assert all(claim["exp"] == claim["iat"] + 300 for claim in claims)
    assert claims[0]["sub"] == account.project_id
    # The first token, presented again at the retry, has expired: hence a fresh one.
    stale = Received(retry.path, first.headers, first.body)
    with pytest.raises(jwt.ExpiredSignatureError):
        await asyncio.to_thread(dt_recipe, url, stale, moments[1])


async def test_a_tampered_body_is_refused(gateway: Gateway, receiver: Receiver) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1
    (push,) = receiver.at("/hook")
    tampered = Received(push.path, push.headers, push.body.replace(b'"value":1', b'"value":9'))
    assert tampered.body != push.body
    with pytest.raises(ValueError, match="checksum"):
        await asyncio.to_thread(dt_recipe, discovery_url(gateway), tampered, gateway.clock())


async def test_rotation_keeps_old_tokens_verifiable_until_they_expired(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    await gateway.connector(account, receiver.url("/hook"))
    device = await gateway.device(account)
    url = discovery_url(gateway)
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1
    signer = gateway.client.app[SIGNER]
    old_kid = signer.key.kid

    new_kid = await asymmetric.rotate(gateway.db, gateway.box, gateway.clock())
    await asymmetric.refresh(signer, gateway.db, gateway.box)
    await gateway.publish(account, device, {"temperature": {"value": 2}})
    assert await gateway.deliver() == 1

    old, new = receiver.at("/hook")
    assert jwt.get_unverified_header(old.headers["DT-Asymmetric-Signature"])["kid"] == old_kid
    assert jwt.get_unverified_header(new.headers["DT-Asymmetric-Signature"])["kid"] == new_kid
    now = gateway.clock()
    await asyncio.to_thread(dt_recipe, url, old, now)  # the old key is still published
    await asyncio.to_thread(dt_recipe, url, new, now)

    async def published() -> set[str]:
        keys = await gateway.call("GET", asymmetric.JWKS_PATH, None)
        return {key["kid"] for key in keys["keys"]}

    assert await published() == {old_kid, new_kid}
    gateway.clock.advance(asymmetric.TOKEN_LIFETIME + 301)
    assert await published() == {new_kid}


async def test_replicas_starting_at_once_share_one_key(gateway: Gateway) -> None:
    await gateway.db.execute("DELETE FROM signing_keys")
    pools = [await create_pool(gateway.settings.database_url or "", 2) for _ in range(4)]
    try:
        signers = await asyncio.gather(*(
            asymmetric.load_signer(pool, gateway.box, "https://x/data-connector", gateway.clock())
            for pool in pools
        ))
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))
    assert len({signer.key.kid for signer in signers}) == 1
    assert await gateway.db.fetchval("SELECT count(*) FROM signing_keys") == 1


async def test_discovery_and_keys_are_public_and_cacheable(gateway: Gateway) -> None:
    async with gateway.client.get(asymmetric.DISCOVERY_PATH) as answer:
        assert answer.status == 200
        assert "max-age" in answer.headers["Cache-Control"]
        document = await answer.json()
    assert document["issuer"] == gateway.client.app[SIGNER].issuer
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert document["jwks_uri"] == str(gateway.client.make_url(asymmetric.JWKS_PATH))
    async with gateway.client.get(asymmetric.JWKS_PATH) as answer:
        assert answer.status == 200
        assert "max-age" in answer.headers["Cache-Control"]
        (key,) = (await answer.json())["keys"]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert "d" not in key


async def test_the_public_url_names_the_issuer_and_the_keys(
    database_url: str, settings: Any, clock: Any
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.app import create_app

    public = configured(settings, public_url="https://hooks.example.com/")
    client = TestClient(TestServer(create_app(public, clock=clock)))
    await client.start_server()
    try:
        async with client.get(asymmetric.DISCOVERY_PATH) as answer:
            document = await answer.json()
    finally:
        await client.close()
    assert document["issuer"] == "https://hooks.example.com/data-connector"
    assert document["jwks_uri"] == "https://hooks.example.com/data-connector/.well-known/jwks.json"


async def test_the_private_key_is_stored_sealed(gateway: Gateway) -> None:
    row = await gateway.db.fetchrow("SELECT kid, sealed_private_key FROM signing_keys")
    assert row is not None
    signer = gateway.client.app[SIGNER]
    der = gateway.box.open(row["sealed_private_key"], f"signing_keys/{row['kid']}".encode())
    assert asymmetric.SigningKey.from_der(row["kid"], der).kid == signer.key.kid
    with pytest.raises(ValueError):  # the stored bytes alone are no key
        asymmetric.SigningKey.from_der(row["kid"], bytes(row["sealed_private_key"]))


async def test_switched_off_pushes_carry_no_asymmetric_signature(
    settings: Any, clock: Any, receiver: Receiver
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.app import create_app
    from gateway.metrics import Metrics

    off = configured(settings, asymmetric_signature=False)
    client = TestClient(TestServer(create_app(off, clock=clock, metrics=Metrics())))
    await client.start_server()
    try:
        gateway = Gateway(client, off, clock, Metrics())
        account = await gateway.project()
        await gateway.connector(account, receiver.url("/hook"))
        device = await gateway.device(account)
        await gateway.publish(account, device, {"temperature": {"value": 1}})
        assert await gateway.deliver() == 1
    finally:
        await client.close()
    (push,) = receiver.at("/hook")
    assert "DT-Asymmetric-Signature" not in push.headers
