"""The OpenAPI document describes exactly the routes the application serves."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.api import openapi
from gateway.api.connector_form import connector_json
from gateway.app import create_app
from gateway.config import Settings
from gateway.model import DEVICE_TYPES, EVENT_TYPES, Connector

METHODS = {"get", "post", "patch", "delete", "put"}


def document() -> dict[str, Any]:
    return orjson.loads(openapi.document())  # type: ignore[no-any-return]


def served() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="postgresql://unused/unused"))
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method.lower() in METHODS
    }


def documented() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_served_route_is_documented_and_nothing_else() -> None:
    assert documented() == served()


def test_only_operations_and_the_token_call_go_without_credentials() -> None:
    public = {
        path
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS and operation.get("security") == []
    }
    assert public == {
        "/oauth2/token", "/healthz", "/readyz", "/metrics", "/v2/openapi.json",
        "/console", "/console/", "/console/{file}", "/console/session",
        "/data-connector/.well-known/openid-configuration", "/data-connector/.well-known/jwks.json",
    }


def test_enumerations_match_the_code() -> None:
    schemas = document()["components"]["schemas"]
    assert set(schemas["PublishData"]["properties"]) == EVENT_TYPES
    assert set(schemas["Event"]["properties"]["eventType"]["enum"]) == EVENT_TYPES
    assert set(schemas["Device"]["properties"]["type"]["enum"]) == DEVICE_TYPES


def test_the_data_connector_lists_every_key_the_api_answers_with() -> None:
    resource = connector_json(Connector(project_id="p", id="c"), show_secret=True)
    schema = document()["components"]["schemas"]["DataConnector"]
    assert set(schema["required"]) == set(resource) - {"httpConfig"}
    assert set(resource) <= set(schema["properties"])
    assert set(schema["properties"]["httpConfig"]["required"]) == set(resource["httpConfig"])
