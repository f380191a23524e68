"""A broker connector's config on the wire: `<x>Config` read into a Connector, and shown back.

The broker URL goes to `Connector.url` and `signatureSecret` to `Connector.signature_secret`,
as for HTTP_PUSH, so both are kept and signed the same way; the rest goes to `Connector.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gateway.api.connector_types import ConnectorType, validate_config
from gateway.errors import BadRequest
from gateway.model import Connector

_OWN_FIELDS = ("url", "signatureSecret")


def stored_config(connector: Connector) -> dict[str, Any]:
    """The connector's broker config as a client writes it."""
    return {"url": connector.url, "signatureSecret": connector.signature_secret,
            **connector.config}  # fmt: skip


def config_json(entry: ConnectorType, connector: Connector) -> dict[str, Any]:
    """Every string field of the type present ("" when unset), credentials included: the
    caller masks them for readers (api/credentials.py)."""
    shown: dict[str, Any] = {
        key: "" for key, spec in entry.properties.items() if spec["type"] == "string"
    }
    shown.update(stored_config(connector))
    return shown


def config_keys(entry: ConnectorType, paths: list[str], config: Any) -> tuple[str, ...]:
    """The config keys a change sets: those its paths name, and those of a whole config."""
    prefix = entry.config_key + "."
    keys = [path.removeprefix(prefix) for path in paths if path.startswith(prefix)]
    if entry.config_key in paths:
        if not isinstance(config, dict):
            raise BadRequest(f"{entry.config_key} must be an object")
        keys += list(config)
    return tuple(dict.fromkeys(keys))


def apply_broker_config(
    connector: Connector,
    entry: ConnectorType,
    body: Mapping[str, Any],
    paths: list[str],
    *,
    allow_insecure: bool,
) -> Connector:
    """The connector with `entry`'s config changed as `body` and `paths` say, then checked whole.

    A new type starts from an empty config; the same type merges key by key, and a key named
    by the paths but absent from the body is cleared.
    """
    given = body.get(entry.config_key, {})
    keys = config_keys(entry, paths, given)
    merged = stored_config(connector) if connector.type == entry.type else {}
    for key in keys:
        if isinstance(given, dict) and key in given:
            merged[key] = given[key]
        else:
            merged.pop(key, None)
    merged = {key: value for key, value in merged.items() if value != "" or key == "url"}
    if "url" not in merged:
        raise BadRequest(f"{entry.config_key}.url is required")
    validate_config(entry, merged, allow_insecure=allow_insecure)
    return replace(
        connector,
        type=entry.type,
        url=merged["url"],
        signature_secret=merged.get("signatureSecret", ""),
        headers={},
        config={key: value for key, value in merged.items() if key not in _OWN_FIELDS},
    )
