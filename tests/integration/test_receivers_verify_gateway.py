"""The receivers library's three verifiers against the gateway's real pushes."""

from __future__ import annotations

import asyncio

import pytest

from gateway.push import asymmetric
from receivers import Reason, VerificationError, verify, verify_standard_webhooks
from receivers.asymmetric import AsymmetricVerifier
from tests.harness import Gateway
from tests.receiver import Receiver

SECRET = "dt-hs256-secret-for-the-library"


async def test_each_verifier_accepts_the_gateways_push_and_refuses_a_tampered_one(
    gateway: Gateway, receiver: Receiver
) -> None:
    account = await gateway.project()
    created = await gateway.connector(
        account,
        receiver.url("/hook"),
        http={"signatureSecret": SECRET, "standardWebhooks": {"secret": "generate"}},
    )
    whsec = created["httpConfig"]["standardWebhooks"]["secret"]
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 1}})
    assert await gateway.deliver() == 1
    (push,) = receiver.at("/hook")
    now = gateway.clock().timestamp()
    discovery = str(gateway.client.make_url(asymmetric.DISCOVERY_PATH))
    secretless = AsymmetricVerifier(discovery, subject=account.project_id, clock=lambda: now)

    checks = {
        "hs256": lambda body: verify(body, push.headers, SECRET, now=now),
        "asymmetric": lambda body: secretless.verify(body, push.headers),
        "standard webhooks": lambda body: verify_standard_webhooks(
            body, push.headers, whsec, now=now
        ),
    }
    for name, check in checks.items():
        verified = await asyncio.to_thread(check, push.body)  # blocking fetches off the loop
        assert verified.event.event_id == push.event_id, name
        with pytest.raises(VerificationError) as caught:
            await asyncio.to_thread(check, push.body.replace(b'"value":1', b'"value":2'))
        assert caught.value.reason in (Reason.CHECKSUM_MISMATCH, Reason.BAD_SIGNATURE), name
