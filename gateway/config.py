"""Settings, read once from `GATEWAY_*` environment variables into a frozen object.

Every setting is declared once in `SETTINGS`; the README's table is checked against it by a test.
An unknown or malformed `GATEWAY_*` variable fails at start-up, naming the key.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gateway.store.crypto import SecretKeyError, parse_keys

PREFIX = "GATEWAY_"
# A claimed delivery may wait behind failing pushes of its connector (three in a row put it into
# probing) before its own push: its lease must outlast that.
LEASE_IN_PUSH_TIMEOUTS = 3


class ConfigError(ValueError):
    """A `GATEWAY_*` variable is unknown or malformed."""


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _positive(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_positive(text: str) -> Any:
        value = parse(text)
        if not 0 < value < math.inf:  # also refuses nan
            raise ValueError(f"must be a positive finite number, got {text!r}")
        return value

    return parse_positive


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text!r}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"must be a port number from 0 to 65535, got {text!r}")
    return value


def _optional_port(text: str) -> int | None:
    return _port(text) if text else None


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse_choice(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse_choice


def _optional_str(text: str) -> str | None:
    return text or None


def _secret_keys(text: str) -> str | None:
    if not text:
        return None
    try:
        parse_keys(text, "the key")
    except SecretKeyError as error:
        raise ValueError(str(error)) from None
    return text


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "data-connector-gateway"


def mask_url(url: str | None) -> str | None:
    """The URL with its password replaced by `***`, for logs and reprs."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _setting(default: Any, parse: Callable[[str], Any], doc: str) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """The gateway's configuration. Durations are in seconds."""

    database_url: str | None = _setting(
        None, _optional_str, "PostgreSQL URL; unset = start the embedded PostgreSQL"
    )
    data_dir: Path = _setting(
        None, Path, "where the embedded PostgreSQL keeps its data (default: the user's data dir)"
    )
    host: str = _setting("127.0.0.1", str, "address the HTTP server binds")
    port: int = _setting(8080, _port, "port the HTTP server binds (0 = any free port)")
    probe_port: int | None = _setting(
        None, _optional_port,
        "port of /healthz and /readyz answered off the event loop, for orchestrators' probes "
        "(unset = none; 0 = any free port)",
    )  # fmt: skip
    public_url: str | None = _setting(
        None, _optional_str, "external base URL, used as the token audience behind a proxy"
    )
    allow_insecure_targets: bool = _setting(
        False, _bool, "accept http:// and private or loopback endpoint URLs (development only)"
    )
    ca_bundle: str | None = _setting(
        None, _optional_str, "extra CA bundle (PEM) trusted for pushes, besides the system store"
    )
    max_connectors: int = _setting(
        100, _positive(int), "most data connectors one project may have"
    )
    push_timeout: float = _setting(10.0, _positive(float), "timeout of one push")
    push_concurrency: int = _setting(64, _positive(int), "pushes in flight per process")
    connector_concurrency: int = _setting(
        16, _positive(int), "pushes in flight per connector per process"
    )
    claim_batch: int = _setting(256, _positive(int), "deliveries claimed per statement")
    lease: float = _setting(
        60.0,
        _positive(float),
        "how long a claimed delivery is held before others may retry it (≥ 3 push timeouts)",
    )
    poll_interval: float = _setting(
        1.0, _positive(float), "how often the dispatcher looks for due retries"
    )
    retry_base: float = _setting(5.0, _positive(float), "first retry delay")
    retry_max: float = _setting(1800.0, _positive(float), "longest retry delay")
    delivery_max_age: float = _setting(
        43200.0, _positive(float), "an undelivered event is dropped at this age (12 h)"
    )
    auto_disable_after: float = _setting(
        432000.0, _positive(float), "a connector failing without success this long is disabled"
    )
    retention: float = _setting(
        2678400.0, _positive(float), "events and push statistics older than this are deleted"
    )
    attempt_log: bool = _setting(
        True, _bool, "record every push attempt and every delivered delivery in the delivery log"
    )
    attempt_retention: float = _setting(
        259200.0, _positive(float), "push attempts and finished deliveries are kept this long"
    )
    replay_limit: int = _setting(
        1000000, _positive(int), "most deliveries one :replay may queue"
    )
    test_push_limit: int = _setting(
        10, _positive(int), ":test pushes allowed per connector per minute"
    )
    auth_failure_limit: int = _setting(
        10, _positive(int), "failed sign-ins per service-account key per minute before a 429"
    )
    ingest_concurrency: int = _setting(
        4, _positive(int), "publishes handled at once per process; more wait in a queue"
    )
    ingest_queue: int = _setting(
        16, _count, "publishes that may wait up to 1 s for a place; more are 503"
    )
    client_timeout: float = _setting(
        15.0,
        _positive(float),
        "a client sends a request's headers within this time of connecting or of the previous"
        " answer (idle connections close then too), and its body within this time after them",
    )
    max_body: int = _setting(1048576, _positive(int), "largest request body accepted, in bytes")
    console_session_lifetime: float = _setting(
        28800.0, _positive(float), "how long a web console sign-in lasts"
    )
    pool_size: int = _setting(10, _positive(int), "PostgreSQL connections per process")
    stream_buffer: int = _setting(
        1048576, _positive(int), "bytes held for a slow event stream reader before it is cut off"
    )
    dispatcher: bool = _setting(True, _bool, "run the dispatcher in this process")
    shutdown_timeout: float = _setting(
        10.0, _positive(float), "on SIGTERM, how long in-flight pushes may finish"
    )
    log_format: str = _setting(
        "auto", _choice("auto", "json", "console"), "auto = console on a terminal, else JSON"
    )
    log_level: str = _setting(
        "info", _choice("debug", "info", "warning", "error"), "lowest level logged"
    )
    secret_key: str | None = _setting(
        None, _secret_keys, "key(s) sealing stored secrets; unset = a key file in the data dir"
    )
    asymmetric_signature: bool = _setting(
        True, _bool, "sign every push with DT-Asymmetric-Signature (ES256, the gateway's key)"
    )

    def __post_init__(self) -> None:
        if self.data_dir is None:
            object.__setattr__(self, "data_dir", _default_data_dir())
        if self.lease < LEASE_IN_PUSH_TIMEOUTS * self.push_timeout:
            raise ConfigError(
                f"GATEWAY_LEASE ({self.lease:g} s) must be at least {LEASE_IN_PUSH_TIMEOUTS} "
                f"times GATEWAY_PUSH_TIMEOUT ({self.push_timeout:g} s): a claimed delivery may "
                "wait for pushes ahead of it before its own, and a lease that ends first lets "
                "another replica push it again"
            )

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        shown["database_url"] = mask_url(self.database_url)
        if self.secret_key:
            shown["secret_key"] = "**********"
        inner = ", ".join(f"{key}={value!r}" for key, value in shown.items())
        return f"Settings({inner})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `GATEWAY_*` variables; fail on unknown or malformed ones, naming the key."""
        environ = os.environ if environ is None else environ
        known = {f"{PREFIX}{f.name.upper()}": f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, text in environ.items():
            if not key.startswith(PREFIX):
                continue
            if key not in known:
                raise ConfigError(f"unknown setting {key}")
            spec = known[key]
            try:
                values[spec.name] = spec.metadata["parse"](text)
            except ValueError as error:
                raise ConfigError(f"{key}: {error}") from None
        return cls(**values)


def documented_settings() -> dict[str, str]:
    """Each environment variable with its one-line description (for the README table)."""
    return {
        f"{PREFIX}{f.name.upper()}": f.metadata["doc"] for f in dataclasses.fields(Settings)
    }
