"""What a push sends: the body built from the stored event, and its headers (SPEC §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import orjson

from gateway.model import Connector
from gateway.push import standard_webhooks
from gateway.push.asymmetric import SIGNATURE_HEADER as ASYMMETRIC_HEADER
from gateway.push.asymmetric import AsymmetricSigner
from gateway.push.signing import SIGNATURE_HEADER, sign_body


def render_body(
    event_json: bytes,
    device_labels: Mapping[str, str],
    wanted_labels: Iterable[str],
    metadata: Mapping[str, str],
) -> bytes:
    """The push body: the stored event bytes as they are, the labels the connector names."""
    labels = {key: device_labels[key] for key in wanted_labels if key in device_labels}
    return orjson.dumps(
        {"event": orjson.Fragment(event_json), "labels": labels, "metadata": metadata}
    )


async def push_headers(
    connector: Connector,
    body: bytes,
    now: float,
    event_id: str,
    signer: AsymmetricSigner | None,
) -> dict[str, str]:
    """`request_headers`, and DT's asymmetric signature when it is on (every push)."""
    headers = request_headers(connector, body, now, event_id=event_id)
    if signer is not None:
        headers[ASYMMETRIC_HEADER] = await signer.sign_batched(body, connector.project_id, now)
    return headers


def request_headers(
    connector: Connector, body: bytes, now: float, *, event_id: str = ""
) -> dict[str, str]:
    """Content type, the connector's own headers, a fresh signature when it has a secret, and
    Standard Webhooks' signatures when it opted in."""
    headers = {"Content-Type": "application/json", **connector.headers}
    if connector.signature_secret:
        headers[SIGNATURE_HEADER] = sign_body(body, connector.signature_secret, now=now)
    if connector.webhook_secrets:
        moment = datetime.fromtimestamp(now, UTC)
        signing = standard_webhooks.signing_secrets(connector.webhook_secrets, moment)
        headers.update(standard_webhooks.signature_headers(event_id, body, int(now), signing))
    return headers
