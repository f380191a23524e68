"""The OpenAPI description of every route, served without authentication."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()
DOCUMENT = Path(__file__).with_name("openapi.json")


@cache
def document() -> bytes:
    """The OpenAPI document's bytes, read once."""
    return DOCUMENT.read_bytes()


@routes.get("/v2/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    return web.Response(body=document(), content_type="application/json")
