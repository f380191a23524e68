"""`GET /v2/dataconnectortypes`: the catalog of connector types a caller may create."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import caller, json_response
from gateway.api.connector_types import catalog_json

routes = web.RouteTableDef()


@routes.get("/v2/dataconnectortypes")
async def list_connector_types(request: web.Request) -> web.Response:
    """Every type with its config key, the JSON Schema of its config and a sample config."""
    await caller(request)  # any authenticated caller; the catalog is the same for everyone
    return json_response(catalog_json())
