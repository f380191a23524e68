"""What a push sends: the body built from the stored event, and its headers (SPEC §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from gateway.model import Connector
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


def request_headers(connector: Connector, body: bytes, now: float) -> dict[str, str]:
    """Content type, the connector's own headers, and a fresh signature when it has a secret."""
    headers = {"Content-Type": "application/json", **connector.headers}
    if connector.signature_secret:
        headers[SIGNATURE_HEADER] = sign_body(body, connector.signature_secret, now=now)
    return headers
