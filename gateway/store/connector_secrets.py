"""A connector's secrets as the store keeps them: one sealed value per row (`sealed_secrets`).

The value is a JSON object, each key present only when the connector has that secret:
`signatureSecret`, `webhookSecrets`, `url` (a broker URL with a password or token in it),
`config` (the keys of `SECRET_CONFIG_KEYS`, NATS `credentials`) and `headers` (an HTTP push's
custom headers, when one has a value). The `url` column keeps the URL with that secret masked,
so the table still shows the scheme, user and host; the `headers` column keeps the header names
with their values masked; the `config` column keeps the rest of the config. Values sealed by
older gateways always hold the first two keys, even empty, and never the last three; they open
the same way, the `url`, `config` and `headers` columns then holding what they hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.masking import SECRET_CONFIG_KEYS, mask_url, mask_values
from gateway.model import Connector, WebhookSecret
from gateway.store.crypto import SecretBox


def place(project_id: str, connector_id: str) -> bytes:
    """What a connector's sealed secrets are bound to: its row."""
    return f"connectors/{project_id}/{connector_id}".encode()


def clear_url(url: str) -> str:
    """The URL as the `url` column keeps it: its password or token masked."""
    masked: str = mask_url(url)
    return masked


def clear_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as the `config` column keeps it: without the keys holding a secret."""
    return {key: value for key, value in config.items() if key not in SECRET_CONFIG_KEYS}


def clear_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The custom headers as the `headers` column keeps them: names, and values masked."""
    return mask_values(headers)


def _secrets(connector: Connector) -> dict[str, Any]:
    secrets: dict[str, Any] = {}
    if connector.signature_secret:
        secrets["signatureSecret"] = connector.signature_secret
    if connector.webhook_secrets:
        secrets["webhookSecrets"] = [
            {"secret": item.secret, "expiresAt": item.expires_at}
            for item in connector.webhook_secrets
        ]
    if clear_url(connector.url) != connector.url:
        secrets["url"] = connector.url
    config = {key: connector.config[key] for key in SECRET_CONFIG_KEYS if key in connector.config}
    if config:
        secrets["config"] = config
    if clear_headers(connector.headers) != connector.headers:
        secrets["headers"] = dict(connector.headers)
    return secrets


def seal_secrets(box: SecretBox, connector: Connector) -> bytes | None:
    """The connector's secrets as one sealed value; None when it has none."""
    secrets = _secrets(connector)
    if not secrets:
        return None
    return box.seal(orjson.dumps(secrets), place(connector.project_id, connector.id))


def _open(row: asyncpg.Record, box: SecretBox) -> dict[str, Any]:
    sealed = row["sealed_secrets"]
    if sealed is None:
        return {}
    opened: dict[str, Any] = orjson.loads(box.open(sealed, place(row["project_id"], row["id"])))
    return opened


def open_row(row: asyncpg.Record, box: SecretBox) -> Connector:
    """The connector of a `connectors` row, its sealed secrets opened and put back in place."""
    opened = _open(row, box)
    values = dict(row)
    values["signature_secret"] = opened.get("signatureSecret", "")
    values["webhook_secrets"] = tuple(
        WebhookSecret(
            item["secret"], datetime.fromisoformat(item["expiresAt"]) if item["expiresAt"] else None
        )
        for item in opened.get("webhookSecrets", ())
    )
    values["url"] = opened.get("url", row["url"])
    values["headers"] = opened.get("headers", row["headers"])
    values["config"] = {**row["config"], **opened.get("config", {})}
    return Connector.from_row(values)
