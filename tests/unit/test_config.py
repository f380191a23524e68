"""Settings.from_env: defaults, every setting's parser, and failures that name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.config import ConfigError, Settings, documented_settings, mask_url

# One good text per setting and the value it must parse to.
GOOD: dict[str, tuple[str, object]] = {
    "database_url": ("postgresql://gw:pw@db:5432/gw", "postgresql://gw:pw@db:5432/gw"),
    "data_dir": ("/var/lib/gateway", Path("/var/lib/gateway")),
    "host": ("0.0.0.0", "0.0.0.0"),
    "port": ("9090", 9090),
    "probe_port": ("8081", 8081),
    "public_url": ("https://gw.example.com", "https://gw.example.com"),
    "allow_insecure_targets": ("yes", True),
    "ca_bundle": ("/etc/ssl/extra.pem", "/etc/ssl/extra.pem"),
    "max_connectors": ("500", 500),
    "push_timeout": ("2.5", 2.5),
    "push_concurrency": ("16", 16),
    "connector_concurrency": ("2", 2),
    "claim_batch": ("32", 32),
    "lease": ("30", 30.0),
    "poll_interval": ("0.25", 0.25),
    "retry_base": ("1", 1.0),
    "retry_max": ("60", 60.0),
    "delivery_max_age": ("3600", 3600.0),
    "auto_disable_after": ("86400", 86400.0),
    "retention": ("604800", 604800.0),
    "attempt_log": ("false", False),
    "attempt_retention": ("3600", 3600.0),
    "replay_limit": ("500", 500),
    "test_push_limit": ("3", 3),
    "auth_failure_limit": ("3", 3),
    "ingest_concurrency": ("4", 4),
    "ingest_queue": ("0", 0),
    "client_timeout": ("2.5", 2.5),
    "max_body": ("65536", 65536),
    "console_session_lifetime": ("3600", 3600.0),
    "pool_size": ("4", 4),
    "stream_buffer": ("65536", 65536),
    "dispatcher": ("off", False),
    "shutdown_timeout": ("3", 3.0),
    "log_format": ("json", "json"),
    "log_level": ("debug", "debug"),
    "secret_key": (
        "dGVzdHMtc2VhbC10aGVpci1zZWNyZXRzLXdpdGgtbWU=",
        "dGVzdHMtc2VhbC10aGVpci1zZWNyZXRzLXdpdGgtbWU=",
    ),
    "asymmetric_signature": ("false", False),
}

# Texts each setting must refuse (settings taking any text have none).
BAD: dict[str, list[str]] = {
    "port": ["http", "1.5", "", "-1", "65536"],
    "probe_port": ["http", "-1", "65536"],
    "allow_insecure_targets": ["maybe", "2"],
    "max_connectors": ["0", "ten"],
    "push_timeout": ["fast", "0", "-1", "nan", "inf", "-inf"],
    "push_concurrency": ["0", "-3", "1.5", "many"],
    "connector_concurrency": ["0"],
    "claim_batch": ["0", "x"],
    "lease": ["0", "-1"],
    "poll_interval": ["0"],
    "retry_base": ["-5"],
    "retry_max": ["never"],
    "delivery_max_age": ["12h"],
    "auto_disable_after": ["5d"],
    "retention": ["0", "NaN", "Infinity"],
    "attempt_log": ["sometimes"],
    "attempt_retention": ["3d", "0"],
    "replay_limit": ["0", "1e6"],
    "test_push_limit": ["-1"],
    "auth_failure_limit": ["0", "1.5"],
    "ingest_concurrency": ["0", "lots"],
    "ingest_queue": ["-1", "1.5", "lots"],
    "client_timeout": ["0", "inf"],
    "max_body": ["1MB", "0"],
    "console_session_lifetime": ["8h", "0", "-1"],
    "pool_size": ["0"],
    "stream_buffer": ["0", "-1", "lots"],
    "dispatcher": ["perhaps"],
    "shutdown_timeout": ["-1"],
    "log_format": ["xml", "JSON"],
    "log_level": ["trace", "INFO"],
    "secret_key": ["short", "not base64!", "dGVzdA=="],
    "asymmetric_signature": ["sometimes"],
}


def key(name: str) -> str:
    return f"GATEWAY_{name.upper()}"


def test_every_setting_is_covered_here() -> None:
    names = {field.name for field in dataclasses.fields(Settings)}
    assert set(GOOD) == names
    assert set(BAD) <= names
    assert set(documented_settings()) == {key(name) for name in names}


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.allow_insecure_targets is False
    assert settings.push_timeout == 10.0
    assert settings.delivery_max_age == 12 * 3600
    assert settings.auto_disable_after == 5 * 24 * 3600
    assert settings.max_body == 1024 * 1024
    assert settings.dispatcher is True
    assert (settings.log_format, settings.log_level) == ("auto", "info")
    assert settings.data_dir.name == "data-connector-gateway"
    assert Settings.from_env({}) == Settings()


def test_other_variables_are_ignored() -> None:
    assert Settings.from_env({"PATH": "/bin", "GATEWAYX": "1", "gateway_port": "1"}) == Settings()


@pytest.mark.parametrize("name", sorted(GOOD))
def test_each_setting_parses(name: str) -> None:
    text, expected = GOOD[name]
    settings = Settings.from_env({key(name): text})
    assert getattr(settings, name) == expected
    untouched = {f.name for f in dataclasses.fields(Settings)} - {name}
    for other in untouched:
        assert getattr(settings, other) == getattr(Settings(), other)


def test_all_settings_at_once() -> None:
    settings = Settings.from_env({key(name): text for name, (text, _) in GOOD.items()})
    for name, (_, expected) in GOOD.items():
        assert getattr(settings, name) == expected


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " yes ", "on"])
def test_true_spellings(text: str) -> None:
    assert Settings.from_env({"GATEWAY_DISPATCHER": text}).dispatcher is True


@pytest.mark.parametrize("text", ["0", "false", "No", "off", ""])
def test_false_spellings(text: str) -> None:
    assert Settings.from_env({"GATEWAY_DISPATCHER": text}).dispatcher is False


def test_empty_optional_text_means_unset() -> None:
    settings = Settings.from_env({"GATEWAY_DATABASE_URL": "", "GATEWAY_PUBLIC_URL": ""})
    assert (settings.database_url, settings.public_url) == (None, None)


def test_unknown_key_fails_naming_it() -> None:
    with pytest.raises(ConfigError, match="GATEWAY_PROT"):
        Settings.from_env({"GATEWAY_PROT": "8080"})


@pytest.mark.parametrize(("name", "text"), [(n, t) for n, texts in BAD.items() for t in texts])
def test_malformed_value_fails_naming_the_key(name: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({key(name): text})
    assert key(name) in str(caught.value)


def test_repr_masks_the_database_password() -> None:
    settings = Settings.from_env({"GATEWAY_DATABASE_URL": "postgresql://gw:hunter2@db/gw"})
    shown = repr(settings)
    assert "hunter2" not in shown
    assert "postgresql://gw:***@db/gw" in shown
    assert "hunter2" not in str(settings)
    assert settings.database_url == "postgresql://gw:hunter2@db/gw"


def test_repr_masks_a_password_that_also_appears_elsewhere() -> None:
    settings = Settings(database_url="postgresql://gw:gw@gw/gw")
    assert repr(settings).count(":***@") == 1
    assert "gw:gw@" not in repr(settings)


def test_mask_url_leaves_urls_without_password() -> None:
    assert mask_url(None) is None
    assert mask_url("") == ""
    assert mask_url("postgresql://gw@db/gw") == "postgresql://gw@db/gw"
    assert mask_url("postgresql://gw:p%40ss@db/gw") == "postgresql://gw:***@db/gw"


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_a_lease_shorter_than_three_push_timeouts_is_refused_at_start() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"GATEWAY_LEASE": "20", "GATEWAY_PUSH_TIMEOUT": "10"})
    message = str(caught.value)
    assert "GATEWAY_LEASE" in message and "GATEWAY_PUSH_TIMEOUT" in message
    assert Settings.from_env({"GATEWAY_LEASE": "30", "GATEWAY_PUSH_TIMEOUT": "10"}).lease == 30
    with pytest.raises(ConfigError, match="GATEWAY_LEASE"):
        Settings(lease=5, push_timeout=2)


def test_repr_masks_the_secret_key() -> None:
    settings = Settings.from_env({key("secret_key"): GOOD["secret_key"][0]})
    assert GOOD["secret_key"][0] not in repr(settings)
    assert "secret_key='**********'" in repr(settings)
