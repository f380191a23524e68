"""The OpenAPI description of every route, served without authentication.

`openapi/base.json` holds the document; every other file of `openapi/` is one resource's part
(its `paths`, `tags` and `components`), merged in name order, so each resource documents itself
beside the others.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

routes = web.RouteTableDef()
PARTS = resources.files("gateway.api") / "openapi"


def merge(document: dict[str, Any], part: dict[str, Any], name: str) -> None:
    """Add one part's paths, tags and components to `document`; a name defined twice is a bug."""
    for path, item in part.get("paths", {}).items():
        if path in document["paths"]:
            raise ValueError(f"{name}: path {path} is already described")
        document["paths"][path] = item
    document["tags"].extend(part.get("tags", []))
    for section, entries in part.get("components", {}).items():
        existing = document["components"].setdefault(section, {})
        twice = sorted(set(existing) & set(entries))
        if twice:
            raise ValueError(f"{name}: components.{section} {twice} are already described")
        existing.update(entries)


@cache
def document() -> bytes:
    """The merged OpenAPI document's bytes, built once."""
    base: dict[str, Any] = orjson.loads((PARTS / "base.json").read_bytes())
    others = sorted(
        (entry for entry in PARTS.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )
    for entry in others:
        if entry.name != "base.json":
            merge(base, orjson.loads(entry.read_bytes()), entry.name)
    return orjson.dumps(base)


@routes.get("/v2/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    return web.Response(body=document(), content_type="application/json")
