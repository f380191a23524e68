"""The asymmetric signature's public side: the discovery document and the JWKS, served without
authentication and cacheable, as a receiver's `PyJWKClient` reads them.

The document's `issuer` is exactly the `iss` of the tokens (`<GATEWAY_PUBLIC_URL>/data-connector`,
else `http://<GATEWAY_HOST>:<GATEWAY_PORT>/data-connector`). Its `jwks_uri` is under the public
URL, else under the address the document was fetched from, so it is reachable by whoever could
fetch the document.
"""

from __future__ import annotations

from datetime import timedelta

import orjson
from aiohttp import web

from gateway.api.common import services
from gateway.push import asymmetric
from gateway.store import signing_keys

# A retired key stays published while its tokens may still be presented: their lifetime, plus
# the time a replica may take to notice the rotation, plus clock skew.
KEEP_RETIRED = timedelta(seconds=asymmetric.TOKEN_LIFETIME + 300)
# Receivers fetch the key set again on an unknown kid, so a short cache costs them little.
DISCOVERY_CACHE = "public, max-age=3600"
JWKS_CACHE = "public, max-age=60"

routes = web.RouteTableDef()


def _cacheable(body: object, cache_control: str, content_type: str) -> web.Response:
    response = web.Response(body=orjson.dumps(body), content_type=content_type)
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@routes.get(asymmetric.DISCOVERY_PATH)
async def discovery(request: web.Request) -> web.Response:
    settings = services(request).settings
    issuer = asymmetric.issuer(settings.public_url, settings.host, settings.port)
    if settings.public_url:
        jwks_uri = settings.public_url.rstrip("/") + asymmetric.JWKS_PATH
    else:
        jwks_uri = str(request.url.origin()) + asymmetric.JWKS_PATH
    document = asymmetric.discovery_document(issuer, jwks_uri)
    return _cacheable(document, DISCOVERY_CACHE, "application/json")


@routes.get(asymmetric.JWKS_PATH)
async def jwks(request: web.Request) -> web.Response:
    svc = services(request)
    keys = await signing_keys.published(svc.db, svc.now() - KEEP_RETIRED)
    return _cacheable({"keys": keys}, JWKS_CACHE, "application/json")
