"""The OAuth2 JWT-bearer token endpoint the `disruptive` SDK signs in with."""

from __future__ import annotations

from aiohttp import web

from gateway.api import auth
from gateway.api.common import body_deadline, json_response, services
from gateway.api.ratelimit import AUTH_FAILURES, assertion_key
from gateway.errors import BadRequest

routes = web.RouteTableDef()
TOKEN_PATH = "/oauth2/token"


def audiences(request: web.Request) -> list[str]:
    """The token URLs an assertion may name: this request's URL and the public one."""
    found = [str(request.url.with_query(None))]
    public_url = services(request).settings.public_url
    if public_url:
        found.append(public_url.rstrip("/") + TOKEN_PATH)
    return found


@routes.post(TOKEN_PATH)
async def token(request: web.Request) -> web.Response:
    if request.content_type != "application/x-www-form-urlencoded":
        raise BadRequest("send a form: grant_type and assertion")
    if request.content_length is None or request.content_length > 16384:
        raise BadRequest("the form must be at most 16 KiB, with a Content-Length")
    try:
        async with body_deadline(services(request).settings.client_timeout):
            form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form is not valid UTF-8 form data") from None
    if form.get("grant_type") != auth.JWT_BEARER_GRANT:
        raise BadRequest(f"grant_type must be {auth.JWT_BEARER_GRANT}")
    assertion = form.get("assertion")
    if not isinstance(assertion, str) or not assertion:
        raise BadRequest("assertion is required")
    svc = services(request)
    now = svc.now()
    with request.app[AUTH_FAILURES].watch(assertion_key(assertion), now.timestamp()):
        access_token = await auth.grant_access_token(svc.db, assertion, audiences(request), now)
    return json_response({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": int(auth.TOKEN_LIFETIME.total_seconds()),
    })
