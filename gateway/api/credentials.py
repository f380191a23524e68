"""What in a resource's JSON is a credential: the one table that decides what a read-only role
may not read, and how a masked value sent back keeps the stored one.

Each credential names its path in the JSON, how to hide it, and how to restore it when a client
returns the masked form (a GET's answer sent back as a PATCH must not store the mask itself).
Add a row to `CREDENTIALS` for every new kind of secret (a broker URL's password, a token).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import BadRequest
from gateway.masking import MASK, mask_url, mask_values


@dataclass(frozen=True)
class Credential:
    """A credential at `path` in a resource's JSON."""

    path: tuple[str, ...]
    hide: Callable[[Any], Any]
    # (value sent by a client, value stored, its name for errors) -> the value to store.
    keep: Callable[[Any, Any, str], Any]


def _hide_text(value: Any) -> Any:
    return MASK if value else value


def _keep_text(sent: Any, stored: Any, name: str) -> Any:
    if sent != MASK:
        return sent
    if not stored:
        raise BadRequest(f"{name}: {MASK} stands for a hidden value; send the value itself")
    return stored


def _keep_values(sent: Any, stored: Any, name: str) -> Any:
    if not isinstance(sent, dict):
        return sent  # refused later by the field's own parser
    held = stored if isinstance(stored, dict) else {}
    return {key: _keep_text(value, held.get(key), f"{name}.{key}") for key, value in sent.items()}


def _keep_url(sent: Any, stored: Any, name: str) -> Any:
    """A URL sent back with its password masked keeps the stored password."""
    if isinstance(sent, str) and MASK in sent and isinstance(stored, str):
        if sent == mask_url(stored):
            return stored
        raise BadRequest(f"{name}: {MASK} stands for a hidden password; send the URL itself")
    return sent


# Broker connectors: the URL's password, NATS credentials and the signature secret.
_BROKER_CONFIGS = ("amqpConfig", "mqttConfig", "natsConfig", "redisConfig")
CREDENTIALS = (
    Credential(("httpConfig", "signatureSecret"), _hide_text, _keep_text),
    Credential(("httpConfig", "headers"), mask_values, _keep_values),
    *(Credential((key, "url"), mask_url, _keep_url) for key in _BROKER_CONFIGS),
    *(Credential((key, "signatureSecret"), _hide_text, _keep_text) for key in _BROKER_CONFIGS),
    Credential(("natsConfig", "credentials"), _hide_text, _keep_text),
)


def _parent(resource: Any, path: tuple[str, ...]) -> Any:
    """The object holding the path's last key, or None when the path is absent."""
    for key in path[:-1]:
        resource = resource.get(key) if isinstance(resource, dict) else None
    return resource if isinstance(resource, dict) and path[-1] in resource else None


def mask(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the resource with every credential hidden."""
    shown = _copy_along_paths(resource)
    for credential in CREDENTIALS:
        parent = _parent(shown, credential.path)
        if parent is not None:
            parent[credential.path[-1]] = credential.hide(parent[credential.path[-1]])
    return shown


def restore_masked(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a client's body in which masked credentials are replaced by the stored ones."""
    restored = _copy_along_paths(sent)
    for credential in CREDENTIALS:
        parent = _parent(restored, credential.path)
        if parent is None:
            continue
        key = credential.path[-1]
        held = _parent(stored, credential.path)
        old = held[key] if held is not None else None
        parent[key] = credential.keep(parent[key], old, ".".join(credential.path))
    return restored


def _copy_along_paths(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A copy deep enough that changing a credential leaves `resource` untouched."""
    copied = dict(resource)
    for credential in CREDENTIALS:
        node = copied
        for key in credential.path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                break
            node[key] = node = dict(child)
    return copied
