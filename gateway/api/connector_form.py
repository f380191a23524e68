"""The data connector on the wire: client input parsed into a Connector, and its JSON form
(SPEC §1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from gateway.api import broker_form, credentials, standard_webhooks
from gateway.api.connector_types import BY_TYPE, CONFIG_KEYS, ConnectorType, connector_type
from gateway.errors import BadRequest
from gateway.masking import MASK
from gateway.model import ACTIVE, EVENT_TYPES, HTTP_PUSH, Connector
from gateway.push.addresses import connect_host, is_public_url
from gateway.push.http_connection import HEADER_NAME, HEADER_VALUE_FORBIDDEN

CLIENT_STATUSES = (ACTIVE, "USER_DISABLED")
MASKED_SECRET = MASK
FIELDS = ("displayName", "status", "events", "labels", "type", *CONFIG_KEYS)
HTTP_FIELDS = ("url", "signatureSecret", "headers", standard_webhooks.KEY)
# Headers the gateway owns on every push; a connector may not override them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection",
     "x-dt-signature", "te", "upgrade", "keep-alive", "proxy-connection", "expect",
     "dt-asymmetric-signature", "webhook-id", "webhook-timestamp", "webhook-signature"}
)
MAX_NAME, MAX_URL, MAX_SECRET = 256, 2048, 1024
MAX_LABELS, MAX_LABEL_KEY = 100, 256
MAX_HEADERS, MAX_HEADER_VALUE = 50, 4096


def connector_json(
    connector: Connector, *, show_secret: bool, reveal_webhook_secret: bool = False
) -> dict[str, Any]:
    """The resource as the API shows it; its credentials masked unless the caller may edit.
    The Standard Webhooks secret shows only in the answer to the request that set it."""
    resource: dict[str, Any] = {
        "name": f"projects/{connector.project_id}/dataconnectors/{connector.id}",
        "displayName": connector.display_name,
        "type": connector.type,
        "status": connector.status,
        "events": list(connector.events),
        "labels": list(connector.labels),
    }
    entry = BY_TYPE[connector.type]
    if connector.type != HTTP_PUSH:
        resource[entry.config_key] = broker_form.config_json(entry, connector)
    else:
        resource["httpConfig"] = {
            "url": connector.url,
            "signatureSecret": connector.signature_secret,
            "headers": dict(connector.headers),
            standard_webhooks.KEY: standard_webhooks.render(
                connector, reveal=show_secret and reveal_webhook_secret
            ),
        }
    return resource if show_secret else credentials.mask(resource)


def _string(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if len(value) > limit:
        raise BadRequest(f"{name} must be at most {limit} characters")
    if "\0" in value:  # PostgreSQL text cannot hold it
        raise BadRequest(f"{name} must not contain NUL characters")
    return value


def _string_list(value: Any, name: str, limit: int, item_limit: int) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be a list of strings")
    if len(value) > limit:
        raise BadRequest(f"{name} may hold at most {limit} entries")
    items = tuple(_string(item, f"{name}[]", item_limit) for item in value)
    return tuple(dict.fromkeys(items))


def parse_events(value: Any) -> tuple[str, ...]:
    events = _string_list(value, "events", len(EVENT_TYPES), 64)
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise BadRequest(f"unknown event types: {', '.join(unknown)}")
    return events


def parse_labels(value: Any) -> tuple[str, ...]:
    labels = _string_list(value, "labels", MAX_LABELS, MAX_LABEL_KEY)
    if any(not label for label in labels):
        raise BadRequest("labels must not be empty strings")
    return labels


def parse_status(value: Any) -> str:
    if value not in CLIENT_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(CLIENT_STATUSES)}")
    return str(value)


# How a developer reaches a receiver on their own machine; the guard itself stays as it is.
LOCAL_TARGETS_HINT = (
    " (to push to a receiver on your own machine during development, start the gateway with"
    " GATEWAY_ALLOW_INSECURE_TARGETS=true)"
)


def parse_url(value: Any, *, allow_insecure: bool) -> str:
    url = _string(value, "httpConfig.url", MAX_URL)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises on a malformed port
        connect_host(url)  # the host as the client will see it, or ValueError
    except ValueError:
        raise BadRequest("httpConfig.url is not a valid URL") from None
    allowed = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in allowed or not host:
        hint = LOCAL_TARGETS_HINT if parts.scheme == "http" else ""
        raise BadRequest("httpConfig.url must be an https:// URL" + hint)
    if parts.username or parts.password:
        raise BadRequest("httpConfig.url must not carry credentials; use headers")
    if not allow_insecure and not is_public_url(url):
        raise BadRequest("httpConfig.url must point to a public address" + LOCAL_TARGETS_HINT)
    return url


def parse_headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadRequest("httpConfig.headers must be an object of strings")
    if len(value) > MAX_HEADERS:
        raise BadRequest(f"httpConfig.headers may hold at most {MAX_HEADERS} headers")
    headers = {}
    for name, text in value.items():
        if not HEADER_NAME.match(name):
            raise BadRequest(f"httpConfig.headers: {name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise BadRequest(f"httpConfig.headers: {name} is set by the gateway")
        text = _string(text, f"httpConfig.headers.{name}", MAX_HEADER_VALUE)
        if HEADER_VALUE_FORBIDDEN.search(text):
            raise BadRequest(
                f"httpConfig.headers.{name} must not contain line breaks or control characters"
            )
        headers[name] = text
    return headers


def _apply_http_config(
    connector: Connector, config: Any, keys: tuple[str, ...], *, allow_insecure: bool
) -> Connector:
    if not isinstance(config, dict):
        raise BadRequest("httpConfig must be an object")
    unknown = sorted(set(config) - set(HTTP_FIELDS))
    if unknown:
        raise BadRequest(f"unknown httpConfig fields: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    if "url" in keys:
        changes["url"] = parse_url(config.get("url", ""), allow_insecure=allow_insecure)
    if "signatureSecret" in keys:
        changes["signature_secret"] = _string(
            config.get("signatureSecret", ""), "httpConfig.signatureSecret", MAX_SECRET
        )
    if "headers" in keys:
        changes["headers"] = parse_headers(config.get("headers", {}))
    if standard_webhooks.KEY in keys:
        changes["webhook_secrets"] = standard_webhooks.parse(
            config.get(standard_webhooks.KEY), connector.webhook_secrets
        )
    return replace(connector, **changes)


def _type_of_change(
    connector: Connector, body: Mapping[str, Any], paths: list[str]
) -> ConnectorType:
    """The connector's type after the change; a config key of another type is refused."""
    entry = connector_type(body.get("type", connector.type) if "type" in paths else connector.type)
    for key in CONFIG_KEYS:
        named = key in body or any(path.startswith(key + ".") for path in paths)
        if key != entry.config_key and named:
            raise BadRequest(f"a {entry.type} connector takes {entry.config_key}, not {key}")
    return entry


def apply_changes(
    connector: Connector, body: Mapping[str, Any], paths: list[str], *, allow_insecure: bool
) -> Connector:
    """The connector with the fields named by `paths` taken from `body` (absent ones cleared).

    A credential sent back in its masked form keeps the stored value.
    """
    body = credentials.restore_masked(body, connector_json(connector, show_secret=True))
    unknown = sorted(set(body) - set(FIELDS) - {"name"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    entry = _type_of_change(connector, body, paths)
    changes: dict[str, Any] = {}
    if "displayName" in paths:
        changes["display_name"] = _string(body.get("displayName", ""), "displayName", MAX_NAME)
    if "status" in paths:
        changes["status"] = parse_status(body.get("status", ACTIVE))
    if "events" in paths:
        changes["events"] = parse_events(body.get("events", []))
    if "labels" in paths:
        changes["labels"] = parse_labels(body.get("labels", []))
    connector = replace(connector, **changes)
    if entry.type != HTTP_PUSH:
        return broker_form.apply_broker_config(
            connector, entry, body, paths, allow_insecure=allow_insecure
        )
    if connector.type != HTTP_PUSH:
        # From a broker type to HTTP_PUSH: a whole httpConfig, nothing kept of the broker's.
        paths = [*paths, *(f"httpConfig.{key}" for key in HTTP_FIELDS)]
        connector = replace(connector, type=HTTP_PUSH, config={}, url="", signature_secret="")
        if not isinstance(body.get("httpConfig"), dict) or "url" not in body["httpConfig"]:
            raise BadRequest("httpConfig.url is required")
    http_keys = _http_keys(paths, body.get("httpConfig", {}))
    if http_keys:
        connector = _apply_http_config(
            connector, body.get("httpConfig", {}), http_keys, allow_insecure=allow_insecure
        )
    return connector


def _http_keys(paths: list[str], config: Any) -> tuple[str, ...]:
    keys = [path.partition(".")[2] for path in paths if path.startswith("httpConfig.")]
    if "httpConfig" in paths:
        # A whole httpConfig in the body merges key by key: absent keys keep their value.
        keys += [key for key in HTTP_FIELDS if isinstance(config, dict) and key in config]
        if not isinstance(config, dict):
            keys.append("url")
    return tuple(dict.fromkeys(keys))


def patch_paths(body: Mapping[str, Any], update_mask: str | None) -> list[str]:
    """The field paths a PATCH changes: the mask's, else every field present in the body.

    An empty mask counts as none, so `?update_mask=` cannot silently drop the whole body.
    """
    paths = [path.strip() for path in (update_mask or "").split(",") if path.strip()]
    if not paths:
        return [name for name in FIELDS if name in body]
    allowed = set(FIELDS) | {
        f"{entry.config_key}.{key}" for entry in BY_TYPE.values() for key in entry.properties
    }
    unknown = sorted(set(paths) - allowed)
    if unknown:
        raise BadRequest(f"update_mask names unknown fields: {', '.join(unknown)}")
    return paths


def new_connector(
    project_id: str, connector_id: str, body: Mapping[str, Any], *, allow_insecure: bool
) -> Connector:
    """A connector from a create request; the type's config and its url are required."""
    entry = connector_type(body.get("type", HTTP_PUSH))
    config = body.get(entry.config_key)
    if not isinstance(config, dict) or "url" not in config:
        raise BadRequest(f"{entry.config_key}.url is required")
    paths = [*FIELDS, *(f"{entry.config_key}.{key}" for key in entry.properties)]
    empty = Connector(project_id=project_id, id=connector_id)
    return apply_changes(empty, body, paths, allow_insecure=allow_insecure)
