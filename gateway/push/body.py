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


def request_headers(
    connector: Connector,
    body: bytes,
    now: float,
    *,
    event_id: str = "",
    signer: AsymmetricSigner | None = None,
) -> dict[str, str]:
    """Content type, the connector's own headers, and a fresh signature when it has a secret."""
    headers = {"Content-Type": "application/json", **connector.headers}
    if connector.signature_secret:
        headers[SIGNATURE_HEADER] = sign_body(body, connector.signature_secret, now=now)
    headers.update(extra_signatures(connector, body, now, event_id, signer))
    return headers


def extra_signatures(
    connector: Connector, body: bytes, now: float, event_id: str, signer: AsymmetricSigner | None
) -> dict[str, str]:
    """DT's asymmetric signature (every push, when on) and Standard Webhooks' (opted in)."""
    headers = {}
    if signer is not None:
        headers[ASYMMETRIC_HEADER] = signer.sign(body, connector.project_id, now)
    if connector.webhook_secrets:
        moment = datetime.fromtimestamp(now, UTC)
        signing = standard_webhooks.signing_secrets(connector.webhook_secrets, moment)
        headers.update(standard_webhooks.signature_headers(event_id, body, int(now), signing))
    return headers
