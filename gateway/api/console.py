"""The web console: its static files, and sign-in sessions that stand for a service account.

The console's pages call the same /v2 API as every client. Signing in checks the key id and
secret exactly as Basic auth does, then sets a cookie whose token is kept server-side (only its
digest) so signing out and deleting the key end the session at once. A request that carries the
cookie and no Authorization header is the account itself, with its current roles: the same roles
and tenant walls as the API. A state-changing request must also carry the session's CSRF token
in `X-CSRF-Token`, which only the console's own pages can read.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import latency
from gateway.api import auth
from gateway.api.common import (
    PRINCIPAL,
    authorize,
    json_object,
    json_response,
    read_json,
    services,
)
from gateway.api.ratelimit import AUTH_FAILURES
from gateway.errors import BadRequest, Forbidden, Unauthorized
from gateway.ingest.eventdata import format_timestamp
from gateway.store import Executor
from gateway.store import console as store

CONSOLE_PATH = "/console/"
COOKIE = "gateway_console"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATIC = resources.files("gateway") / "console"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml", ".png": "image/png"}
# No inline script or style anywhere; the pages talk only to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

routes = web.RouteTableDef()


def console_url(base_url: str) -> str:
    """The console's address on a gateway served at `base_url` (e.g. http://127.0.0.1:8080)."""
    return base_url.rstrip("/") + CONSOLE_PATH


@cache
def static_files() -> dict[str, tuple[bytes, str]]:
    """{file name: (bytes, content type)} of the console, read once."""
    found = {}
    for entry in STATIC.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            found[entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    return found


def _static(name: str) -> web.Response:
    found = static_files().get(name)
    if found is None:
        raise web.HTTPNotFound(reason=f"no console file {name}")
    body, content_type = found
    return web.Response(body=body, content_type=content_type, headers=PAGE_HEADERS)


@routes.get(CONSOLE_PATH.rstrip("/"))
async def console_root(_request: web.Request) -> web.Response:
    return _static("index.html")  # its files are named from the root, so this works too


@routes.get(CONSOLE_PATH)
async def console_page(_request: web.Request) -> web.Response:
    return _static("index.html")


@routes.get(CONSOLE_PATH + "{file:[a-z0-9_-]+\\.[a-z]+}")
async def console_file(request: web.Request) -> web.Response:
    return _static(request.match_info["file"])


def _token_digest(request: web.Request) -> bytes | None:
    token = request.cookies.get(COOKIE)
    return auth.digest(token) if token else None


async def _current_session(request: web.Request) -> tuple[bytes, store.Session]:
    digest = _token_digest(request)
    svc = services(request)
    found = await store.session(svc.db, digest, svc.now()) if digest else None
    if digest is None or found is None:
        raise Unauthorized("the console session has expired or was signed out; sign in again")
    return digest, found


def _check_csrf(request: web.Request, session: store.Session) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise Forbidden(f"a state-changing console request needs the session's {CSRF_HEADER}")


def _check_same_origin(request: web.Request) -> None:
    """Refuse a sign-in posted by another site's page (login CSRF)."""
    origin = request.headers.get("Origin")
    public_url = urlsplit(services(request).settings.public_url or "")
    allowed = {f"{request.scheme}://{request.host}", f"{public_url.scheme}://{public_url.netloc}"}
    if origin is not None and origin not in allowed:
        raise Forbidden("sign-in is accepted only from the console's own pages")
    if request.content_type != "application/json":
        raise BadRequest("sign-in takes a JSON body {\"keyId\", \"secret\"}")


async def _session_answer(
    principal: auth.Principal, session: store.Session, db: Executor
) -> dict[str, Any]:
    if principal.organization_admin:  # an admin of every live project
        rows = await store.live_projects(db)
        roles = {row["id"]: auth.ADMIN for row in rows}
    else:
        rows = await store.project_names(db, list(principal.roles))
        roles = principal.roles
    return {
        "keyId": principal.key_id,
        "csrfToken": session.csrf_token,
        "expireTime": format_timestamp(session.expires_at),
        "projects": [
            {"name": f"projects/{row['id']}", "displayName": row["display_name"],
             "role": roles[row["id"]]}
            for row in rows
        ],
    }


def _credential(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} is required")
    if len(value) > 256:
        raise BadRequest(f"{name} must be at most 256 characters")
    return value.strip()


def _secure(request: web.Request) -> bool:
    public_url = services(request).settings.public_url or ""
    return request.secure or public_url.startswith("https://")


@routes.post(CONSOLE_PATH + "session")
async def sign_in(request: web.Request) -> web.Response:
    """Check a key id and secret as Basic auth does; answer with a session cookie."""
    _check_same_origin(request)
    body = json_object(await read_json(request))
    unknown = sorted(set(body) - {"keyId", "secret"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    key_id, secret = _credential(body, "keyId"), _credential(body, "secret")
    svc = services(request)
    now = svc.now()
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    # The same check and the same limit on failures as a request with these Basic credentials.
    with request.app[AUTH_FAILURES].watch(key_id, now.timestamp()):
        principal = await auth.authenticate(svc.db, f"Basic {basic}", now)
    lifetime = timedelta(seconds=svc.settings.console_session_lifetime)
    token = secrets.token_urlsafe(32)
    session = store.Session(principal.key_id, secrets.token_urlsafe(32), now + lifetime)
    await store.insert_session(svc.db, auth.digest(token), session, now)
    response = json_response(await _session_answer(principal, session, svc.db))
    response.set_cookie(
        COOKIE, token, max_age=int(lifetime.total_seconds()), path="/",
        httponly=True, samesite="Strict", secure=_secure(request),
    )
    return response


@routes.get(CONSOLE_PATH + "session")
async def current_session(request: web.Request) -> web.Response:
    digest, session = await _current_session(request)
    principal = await _principal_of(request, digest, session)
    return json_response(await _session_answer(principal, session, services(request).db))


@routes.delete(CONSOLE_PATH + "session")
async def sign_out(request: web.Request) -> web.Response:
    digest, session = await _current_session(request)
    _check_csrf(request, session)
    await store.delete_session(services(request).db, digest)
    response = json_response({})
    response.del_cookie(COOKIE, path="/")
    return response


async def _principal_of(
    request: web.Request, digest: bytes, session: store.Session
) -> auth.Principal:
    """The session's key with its grants as of now, as a Bearer token's key is read."""
    db = services(request).db
    principal = await auth.principal_of_key(db, session.key_id)
    # A deleted key, or an account no longer allowed Basic auth, ends its sessions at once.
    if principal is None:
        await store.delete_session(db, digest)
        raise Unauthorized("the service account key of this console session is no longer valid")
    return principal


async def session_principal(request: web.Request) -> auth.Principal:
    """The account behind the request's console cookie; state changes need the CSRF token."""
    digest, session = await _current_session(request)
    if request.method not in SAFE_METHODS:
        _check_csrf(request, session)
    return await _principal_of(request, digest, session)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A console cookie without an Authorization header authenticates a /v2 request."""
    if (
        request.path.startswith("/v2/")
        and request.path != "/v2/openapi.json"
        and "Authorization" not in request.headers
        and COOKIE in request.cookies
    ):
        request[PRINCIPAL] = await session_principal(request)
    return await handler(request)


STATS_WINDOW = timedelta(hours=3)  # the window of :metrics


def _activity_json(project_id: str, connector_id: str, found: store.ConnectorActivity) -> Any:
    def moment(value: datetime | None) -> str:
        return format_timestamp(value) if value is not None else ""

    return {
        "name": f"projects/{project_id}/dataconnectors/{connector_id}",
        "failingSince": moment(found.failing_since),
        "lastSuccessTime": moment(found.last_success_at),
        "successCount": sum(successes for _, successes, _ in found.minutes),
        "errorCount": sum(errors for _, _, errors in found.minutes),
        "latency99p": latency.duration_text(latency.quantile(found.buckets, 0.99)),
        "minutes": [
            {"minute": format_timestamp(minute), "successes": successes, "errors": errors}
            for minute, successes, errors in found.minutes
        ],
    }


@routes.get("/v2/projects/{project}/dataconnectors:stats")
async def connector_stats(request: web.Request) -> web.Response:
    """Every connector's pushes over the last 3 hours, per minute: the console's overview."""
    _, project_id = await authorize(request, auth.USER)
    svc = services(request)
    end = svc.now()
    start = (end - STATS_WINDOW).replace(second=0, microsecond=0)
    found = await store.activity(svc.db, project_id, start)
    return json_response({
        "startTime": format_timestamp(start),
        "endTime": format_timestamp(end),
        "dataConnectors": [
            _activity_json(project_id, connector_id, activity)
            for connector_id, activity in found.items()
        ],
    })
