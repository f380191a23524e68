"""Liveness, readiness and Prometheus metrics: no authentication, cheap enough to poll often."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.common import json_response, services
from gateway.api.readiness import DATABASE_CHECK, readiness_answer

routes = web.RouteTableDef()
READINESS: web.AppKey[Callable[[], dict[str, bool]]] = web.AppKey("readiness")


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    registry = services(request).metrics.registry
    headers = {"Content-Type": CONTENT_TYPE_LATEST}
    return web.Response(body=generate_latest(registry), headers=headers)


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def readiness_checks(app: web.Application) -> dict[str, bool]:
    """Every readiness check by name, from memory: the database is checked in the background."""
    return {**app[READINESS](), **app[DATABASE_CHECK].checks}


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    status, body = readiness_answer(readiness_checks(request.app))
    response = json_response(body)
    response.set_status(status)
    return response
