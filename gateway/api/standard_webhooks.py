"""Standard Webhooks on a connector: the `httpConfig.standardWebhooks` key, and
`POST …/dataconnectors/{c}:rotateSecret`, which replaces the secret while the old one keeps
signing for an overlap (both signatures in `webhook-signature`), as Svix does.

DT's `signatureSecret` cannot overlap: `X-Dt-Signature` holds one HS256 token, so a receiver
sees either the old secret's token or the new one's. Receivers that verify
`DT-Asymmetric-Signature` need no shared secret at all, which is why that is the recommended path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from gateway.api import auth
from gateway.api.common import (
    RESOURCE_ID,
    authorize,
    json_object,
    json_response,
    read_json,
    services,
)
from gateway.errors import BadRequest, NotFound
from gateway.ingest.eventdata import format_timestamp
from gateway.model import Connector, WebhookSecret
from gateway.push import standard_webhooks
from gateway.store import connectors

KEY = "standardWebhooks"
MASKED = "********"
GENERATE = "generate"
DEFAULT_OVERLAP = timedelta(days=1)
MAX_OVERLAP = timedelta(days=7)
MAX_SECRETS = 10  # the current one and the replaced ones still overlapping
_INPUT_KEYS = {"secret", "previousSecretExpireTime"}
_DURATION = re.compile(r"^(\d{1,7})(\.\d{1,9})?s$")
HS256_NOTE = (
    "signatureSecret is not rotated: X-Dt-Signature holds one HS256 token, so DT's signature "
    "secret cannot overlap; change it with PATCH when every receiver is ready, or verify "
    "DT-Asymmetric-Signature, which needs no shared secret"
)

routes = web.RouteTableDef()


def _checked_secret(secret: Any) -> str:
    if not isinstance(secret, str):
        raise BadRequest(f"httpConfig.{KEY}.secret must be a string")
    if secret == GENERATE:
        return standard_webhooks.new_secret()
    try:
        standard_webhooks.secret_key(secret)
    except ValueError as error:
        raise BadRequest(f"httpConfig.{KEY}.secret {error}") from None
    return secret


def parse(value: Any, current: tuple[WebhookSecret, ...]) -> tuple[WebhookSecret, ...]:
    """The connector's secrets after `httpConfig.standardWebhooks` = `value` (null = off)."""
    if value is None:
        return ()
    # previousSecretExpireTime is read-only: accepted (and ignored) so a GET can be sent back.
    if not isinstance(value, dict) or not {"secret"} <= set(value) <= _INPUT_KEYS:
        raise BadRequest(f'httpConfig.{KEY} must be null or {{"secret": "whsec_…" | "generate"}}')
    if value["secret"] == MASKED:  # the masked value read back: keep what is stored
        if not current:
            raise BadRequest(f"httpConfig.{KEY}.secret: there is no secret to keep")
        return current
    return (WebhookSecret(_checked_secret(value["secret"])),)


def sets_secret(body: Any) -> bool:
    """Whether a create or update request sets a new secret (its answer then shows it once)."""
    config = body.get("httpConfig") if isinstance(body, dict) else None
    value = config.get(KEY) if isinstance(config, dict) else None
    return isinstance(value, dict) and value.get("secret") not in (None, MASKED)


def render(connector: Connector, *, reveal: bool, now: datetime | None = None) -> Any:
    """The key as answers show it: null when off; the secret itself only when `reveal`."""
    if not connector.webhook_secrets:
        return None
    current, *previous = connector.webhook_secrets
    expiries = [item.expires_at for item in previous if item.expires_at is not None]
    if now is not None:
        expiries = [moment for moment in expiries if moment > now]
    return {
        "secret": current.secret if reveal else MASKED,
        "previousSecretExpireTime": format_timestamp(max(expiries)) if expiries else "",
    }


def parse_overlap(body: dict[str, Any]) -> timedelta:
    text = body.get("overlap", f"{int(DEFAULT_OVERLAP.total_seconds())}s")
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise BadRequest('overlap must be a duration in seconds such as "86400s"')
    overlap = timedelta(seconds=float(text[:-1]))
    if overlap > MAX_OVERLAP:
        raise BadRequest("overlap must be from 0s to 604800s (7 days)")
    return overlap


def rotated(connector: Connector, secret: str, overlap: timedelta, now: datetime) -> Connector:
    """The connector signing with `secret`, its previous secrets signing until now + overlap."""
    if not connector.webhook_secrets:
        raise BadRequest(f"the data connector has no httpConfig.{KEY} secret to rotate")
    until = now + overlap
    previous = [
        replace(item, expires_at=min(item.expires_at or until, until))
        for item in connector.webhook_secrets
        if (item.expires_at is None or item.expires_at > now) and overlap > timedelta(0)
    ]
    kept = (WebhookSecret(secret), *previous[: MAX_SECRETS - 1])
    return replace(connector, webhook_secrets=kept)


@routes.post("/v2/projects/{project}/dataconnectors/{connector:" + RESOURCE_ID + "}:rotateSecret")
async def rotate_secret(request: web.Request) -> web.Response:
    _, project_id = await authorize(request, auth.DEVELOPER)
    body = json_object(await read_json(request, allow_empty=True))
    unknown = sorted(set(body) - {"overlap", "secret"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    overlap = parse_overlap(body)
    secret = _checked_secret(body.get("secret", GENERATE))
    svc = services(request)
    now = svc.now()
    connector_id = request.match_info["connector"]
    updated = await _update(request, project_id, connector_id,
                            lambda current: rotated(current, secret, overlap, now))
    return json_response({
        KEY: render(updated, reveal=True, now=now),
        "signatureSecret": HS256_NOTE,
    })


async def _update(
    request: web.Request,
    project_id: str,
    connector_id: str,
    change: Callable[[Connector], Connector],
) -> Connector:
    svc = services(request)
    updated = await connectors.update(
        svc.db, svc.box, project_id, connector_id, change, svc.now()
    )
    if updated is None:
        raise NotFound(f"data connector {connector_id} not found")
    return updated
