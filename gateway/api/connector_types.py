"""The catalog of connector types, and the validation of a broker type's config against it.

Each broker type's config is described by a JSON Schema, served by `GET /v2/dataconnectortypes`
and used here to check create and update requests, so what clients read is what is enforced.
The schemas use a small part of JSON Schema (object, string, integer; properties, required,
additionalProperties, length, pattern, bounds), which `_check` implements in a few lines rather
than adding a validator library and its dependencies; the tests check it against `jsonschema`.
Rules a schema cannot say well are checked after it, with clear messages: the placeholders of
a template, the URL's parts, the public-address rule and whether the client library is there.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from gateway.errors import BadRequest
from gateway.model import AMQP, HTTP_PUSH, MQTT, NATS, REDIS_STREAM, TEMPLATE_FIELDS
from gateway.push.addresses import connect_host, is_public_url

MAX_URL, MAX_SECRET, MAX_CREDENTIALS = 2048, 1024, 16384
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TEMPLATE_TEXT = "(?:[^{}]|\\{(?:" + "|".join(TEMPLATE_FIELDS) + ")\\})"


@dataclass(frozen=True)
class ConnectorType:
    """One entry of the catalog; `secure` and `insecure` are the URL schemes it accepts
    (the second only with the development setting), `client` the module its extra installs."""

    type: str
    display_name: str
    config_key: str
    schema: Mapping[str, Any]
    sample: Mapping[str, Any]
    secure: str = ""
    insecure: str = ""
    extra: str = ""
    client: str = ""
    templates: tuple[str, ...] = ()

    @property
    def properties(self) -> Mapping[str, Any]:
        """The config's fields and their schemas."""
        props: Mapping[str, Any] = self.schema["properties"]
        return props


def _template(description: str, exclude: str = "") -> dict[str, Any]:
    text = _TEMPLATE_TEXT.replace("[^{}]", f"[^{{}}{exclude}]")
    return {"type": "string", "minLength": 1, "maxLength": 1024,
            "pattern": f"^{text}+$", "description": description}  # fmt: skip


def _url(schemes: str, description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": MAX_URL,
            "pattern": f"^(?:{schemes})://", "description": description}  # fmt: skip


_SECRET = {
    "type": "string", "maxLength": MAX_SECRET,
    "description": "HS256 signature secret; \"\" sends no X-Dt-Signature header",
}  # fmt: skip
_TEMPLATE_NOTE = " May use {projectId}, {deviceId} and {eventType}."


def _schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {**properties, "signatureSecret": _SECRET},
    }


CATALOG: Final = (
    ConnectorType(
        HTTP_PUSH, "HTTPS push", "httpConfig",
        _schema(["url"], {
            "url": _url("https|http", "HTTPS endpoint that receives each event as a POST"),
            "headers": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "extra request headers"},
        }),
        {"url": "https://example.com/hook", "signatureSecret": "", "headers": {}},
    ),
    ConnectorType(
        AMQP, "RabbitMQ (AMQP 0-9-1)", "amqpConfig",
        _schema(["url", "routingKey"], {
            "url": _url("amqps|amqp", "broker URL: amqps://user:password@host:5671/vhost"),
            "exchange": {"type": "string", "maxLength": 255,
                         "description": "exchange to publish to; \"\" is the default exchange"},
            "routingKey": _template("routing key of each message." + _TEMPLATE_NOTE),
        }),
        {"url": "amqps://user:password@rabbitmq.example.com/events", "exchange": "dt",
         "routingKey": "{projectId}.{deviceId}.{eventType}", "signatureSecret": ""},
        secure="amqps", insecure="amqp", extra="amqp", client="aio_pika",
        templates=("routingKey",),
    ),
    ConnectorType(
        MQTT, "MQTT", "mqttConfig",
        _schema(["url", "topic"], {
            "url": _url("mqtts|mqtt", "broker URL: mqtts://user:password@host:8883"),
            "topic": _template("topic of each message (no wildcards)." + _TEMPLATE_NOTE, "+#"),
        }),
        {"url": "mqtts://user:password@mqtt.example.com:8883",
         "topic": "dt/{projectId}/{deviceId}/{eventType}", "signatureSecret": ""},
        secure="mqtts", insecure="mqtt", extra="mqtt", client="aiomqtt", templates=("topic",),
    ),
    ConnectorType(
        NATS, "NATS JetStream", "natsConfig",
        _schema(["url", "subject"], {
            "url": _url("tls|nats", "server URL: tls://host:4222 (user:password@ or token@)"),
            "subject": _template(
                "subject a JetStream stream captures (no wildcards)." + _TEMPLATE_NOTE, "*>\\s"
            ),
            "credentials": {"type": "string", "maxLength": MAX_CREDENTIALS,
                            "description": "contents of a .creds file (user JWT and NKey seed)"},
        }),
        {"url": "tls://nats.example.com:4222", "subject": "dt.{projectId}.{eventType}",
         "credentials": "", "signatureSecret": ""},
        secure="tls", insecure="nats", extra="nats", client="nats", templates=("subject",),
    ),
    ConnectorType(
        REDIS_STREAM, "Redis Streams", "redisConfig",
        _schema(["url", "stream"], {
            "url": _url("rediss|redis", "server URL: rediss://user:password@host:6380/0"),
            "stream": _template("stream key each event is added to." + _TEMPLATE_NOTE),
            "maxLength": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000,
                          "description": "trim the stream to about this many entries"},
        }),
        {"url": "rediss://default:password@redis.example.com:6380/0", "stream": "dt:events",
         "maxLength": 100000, "signatureSecret": ""},
        secure="rediss", insecure="redis", extra="redis", client="redis", templates=("stream",),
    ),
)  # fmt: skip
BY_TYPE: Final = {entry.type: entry for entry in CATALOG}
BY_CONFIG_KEY: Final = {entry.config_key: entry for entry in CATALOG}
CONFIG_KEYS: Final = tuple(BY_CONFIG_KEY)


def catalog_json() -> dict[str, Any]:
    """The answer of `GET /v2/dataconnectortypes`."""
    return {
        "dataConnectorTypes": [
            {
                "type": entry.type,
                "displayName": entry.display_name,
                "configKey": entry.config_key,
                "configSchema": entry.schema,
                "sampleConfig": entry.sample,
            }
            for entry in CATALOG
        ]
    }


def connector_type(value: Any) -> ConnectorType:
    """The catalog entry of a `type` field, or 400."""
    entry = BY_TYPE.get(value) if isinstance(value, str) else None
    if entry is None:
        raise BadRequest(f"type must be one of {', '.join(BY_TYPE)}")
    return entry


def _check(value: Any, schema: Mapping[str, Any], where: str) -> None:
    """Raise BadRequest where `value` breaks `schema` (the subset of JSON Schema used above)."""
    kind = schema.get("type")
    if kind == "object":
        _check_object(value, schema, where)
    elif kind == "string":
        if not isinstance(value, str):
            raise BadRequest(f"{where} must be a string")
        if len(value) < schema.get("minLength", 0):
            raise BadRequest(f"{where} must not be empty")
        if len(value) > schema.get("maxLength", len(value)):
            raise BadRequest(f"{where} must be at most {schema['maxLength']} characters")
        if "\0" in value:  # PostgreSQL text cannot hold it
            raise BadRequest(f"{where} must not contain NUL characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise BadRequest(f"{where} is not valid: {schema.get('description', '')}")
    elif kind == "integer":
        # JSON Schema counts 10.0 as an integer too.
        integral = isinstance(value, float) and value.is_integer()
        if not (isinstance(value, int) or integral) or isinstance(value, bool):
            raise BadRequest(f"{where} must be an integer")
        if not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            raise BadRequest(
                f"{where} must be between {schema['minimum']} and {schema['maximum']}"
            )


def _check_object(value: Any, schema: Mapping[str, Any], where: str) -> None:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if extra is False:
        unknown = sorted(set(value) - set(properties))
        if unknown:
            raise BadRequest(f"unknown {where} fields: {', '.join(unknown)}")
    missing = [key for key in schema.get("required", ()) if key not in value]
    if missing:
        raise BadRequest(f"{where}.{missing[0]} is required")
    for key, item in value.items():
        inner = properties.get(key, extra if isinstance(extra, dict) else None)
        if inner is not None:
            _check(item, inner, f"{where}.{key}")


def check_templates(entry: ConnectorType, config: Mapping[str, Any]) -> None:
    """Refuse placeholders other than {projectId}, {deviceId} and {eventType}."""
    for key in entry.templates:
        text = config.get(key)
        if not isinstance(text, str):
            continue
        for name in _PLACEHOLDER.findall(text):
            if name not in TEMPLATE_FIELDS:
                allowed = ", ".join("{" + field + "}" for field in TEMPLATE_FIELDS)
                raise BadRequest(
                    f"{entry.config_key}.{key}: unknown placeholder {{{name}}}; use {allowed}"
                )
        if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
            raise BadRequest(f"{entry.config_key}.{key} has an unmatched brace")


def check_broker_url(entry: ConnectorType, url: str, *, allow_insecure: bool) -> None:
    """A broker URL the client can parse, with a scheme and host this gateway allows."""
    where = f"{entry.config_key}.url"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a malformed port
        connect_host(url)  # the host as a client will see it, or ValueError
    except ValueError:
        raise BadRequest(f"{where} is not a valid URL") from None
    schemes = (entry.secure, entry.insecure) if allow_insecure else (entry.secure,)
    if parts.scheme not in schemes or not parts.hostname:
        raise BadRequest(f"{where} must be a {entry.secure}:// URL with a host")
    if parts.query or parts.fragment:
        raise BadRequest(f"{where} must not carry a query or a fragment")
    if entry.type == REDIS_STREAM and parts.path.strip("/") and not parts.path[1:].isdigit():
        raise BadRequest(f"{where}: the path must be a database number")
    if entry.type in (MQTT, NATS) and parts.path.strip("/"):
        raise BadRequest(f"{where} must not have a path")
    if not allow_insecure and not is_public_url(url):
        raise BadRequest(f"{where} must point to a public address")


def require_client(entry: ConnectorType) -> None:
    """400 naming the extra to install when the type's client library is missing."""
    if not entry.client:
        return
    try:
        importlib.import_module(entry.client)
    except ImportError:
        raise BadRequest(
            f"{entry.type} connectors need the {entry.extra} extra: "
            f"pip install 'data-connector-gateway[{entry.extra}]'"
        ) from None


def validate_config(
    entry: ConnectorType, config: Mapping[str, Any], *, allow_insecure: bool
) -> None:
    """Check a whole broker config (after a PATCH's merge): schema, templates, URL, client."""
    check_templates(entry, config)
    _check(config, entry.schema, entry.config_key)
    check_broker_url(entry, config["url"], allow_insecure=allow_insecure)
    require_client(entry)
