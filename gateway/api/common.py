"""What every handler needs: the application's parts, the caller, JSON in and out, pages."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from aiohttp import web

from gateway.api import auth
from gateway.api.ratelimit import AUTH_FAILURES, basic_key
from gateway.clock import Clock
from gateway.config import Settings
from gateway.errors import BadRequest, PayloadTooLarge, RequestTimeout
from gateway.ingest.hand_off import Dispatch
from gateway.metrics import Metrics
from gateway.store.crypto import SecretBox

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
# What a connector or device id in a path or a body may look like; anything else is unknown.
RESOURCE_ID = r"[A-Za-z0-9_\-]{1,64}"


@dataclass(frozen=True)
class Services:
    """The parts handlers use, created once per application."""

    settings: Settings
    db: asyncpg.Pool
    clock: Clock
    metrics: Metrics
    box: SecretBox  # seals and opens the stored secrets

    def now(self) -> datetime:
        return self.clock()


SERVICES = web.AppKey("services", Services)
# This process's dispatcher, which publishes hand fresh deliveries to (when it runs here).
DISPATCH = web.AppKey("dispatch", Dispatch)
PRINCIPAL = web.RequestKey("principal", auth.Principal)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def caller(request: web.Request) -> auth.Principal:
    """The authenticated service account behind this request (once per request)."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        svc = services(request)
        authorization = request.headers.get("Authorization")
        now = svc.now()
        with request.app[AUTH_FAILURES].watch(basic_key(authorization), now.timestamp()):
            principal = await auth.authenticate(svc.db, authorization, now)
        request[PRINCIPAL] = principal
    return principal


async def authorize(request: web.Request, role: str) -> tuple[auth.Principal, str]:
    """The caller and the project of the URL, once the caller holds `role` there."""
    principal = await caller(request)
    project_id = request.match_info["project"]
    await auth.admit_organization_admin(services(request).db, principal, project_id)
    principal.require(project_id, role)
    return principal, project_id


def json_response(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def read_json(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request body as JSON; malformed or oversized input is a 400."""
    settings = services(request).settings
    limit = settings.max_body
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    async with body_deadline(settings.client_timeout):
        raw = await _read_at_most(request, limit)
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("a JSON request body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"malformed JSON: {error}") from None


@asynccontextmanager
async def body_deadline(seconds: float) -> AsyncIterator[None]:
    """Bound the time a request body may take to arrive: a client that drips it gets a 408."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {seconds:g} s") from None


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    """The whole body (a single read may return only the first chunk), or PayloadTooLarge."""
    raw = bytearray()
    while chunk := await request.content.read(limit + 1 - len(raw)):
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
    return bytes(raw)


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def query_value(request: web.Request, *names: str) -> str | None:
    """The first of several spellings of a query parameter (pageToken or page_token)."""
    for name in names:
        if name in request.query:
            return request.query[name]
    return None


def page_request(request: web.Request) -> tuple[int, str]:
    """(page size, the key after which the page starts)."""
    size_text = query_value(request, "pageSize", "page_size")
    size = DEFAULT_PAGE_SIZE
    if size_text not in (None, ""):
        try:
            size = int(size_text)
        except ValueError:
            raise BadRequest("pageSize must be an integer") from None
        if size < 0:
            raise BadRequest("pageSize must not be negative")
        size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    token = query_value(request, "pageToken", "page_token") or ""
    return size, decode_page_token(token)


def encode_page_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    if not token:
        return ""
    try:
        key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("invalid pageToken") from None
    if "\0" in key:
        raise BadRequest("invalid pageToken")
    return key


def page(rows: list[T], size: int, key: Callable[[T], str]) -> tuple[list[T], str]:
    """The rows of this page and the next page's token ("" on the last page).

    `rows` holds up to size + 1 rows; the extra one only says that another page exists.
    """
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_page_token(key(rows[-1]))
