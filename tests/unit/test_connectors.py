"""The connector resource's validation and PATCH semantics, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.api.connector_form import (
    MASKED_SECRET,
    apply_changes,
    connector_json,
    new_connector,
    parse_headers,
    parse_url,
    patch_paths,
)
from gateway.errors import BadRequest
from gateway.model import ACTIVE, EVENT_TYPES, SYSTEM_DISABLED, USER_DISABLED, Connector

HOOK = "https://example.com/hook"
CURRENT = Connector(
    project_id="p",
    id="c",
    display_name="mine",
    status=ACTIVE,
    events=("touch",),
    labels=("name",),
    url=HOOK,
    signature_secret="old",
    headers={"x-api-key": "abc"},
)


def patch(body: dict[str, Any], mask: str | None = None, current: Connector = CURRENT) -> Connector:
    return apply_changes(current, body, patch_paths(body, mask), allow_insecure=False)


def create(body: dict[str, Any], *, allow_insecure: bool = False) -> Connector:
    return new_connector("p", "c", body, allow_insecure=allow_insecure)


# --- create ---------------------------------------------------------------------------------


def test_create_with_only_a_url_has_every_default() -> None:
    made = create({"httpConfig": {"url": HOOK}})
    assert connector_json(made, show_secret=True) == {
        "name": "projects/p/dataconnectors/c",
        "displayName": "",
        "type": "HTTP_PUSH",
        "status": "ACTIVE",
        "events": [],
        "labels": [],
        "httpConfig": {
            "url": HOOK, "signatureSecret": "", "headers": {}, "standardWebhooks": None
        },
    }


def test_create_takes_every_field() -> None:
    body = {
        "displayName": "d", "type": "HTTP_PUSH", "status": USER_DISABLED,
        "events": ["touch", "temperature", "touch"], "labels": ["name", "floor"],
        "httpConfig": {"url": HOOK, "signatureSecret": "s", "headers": {"X-A": "1"}},
    }
    made = create(body)
    assert (made.display_name, made.status) == ("d", USER_DISABLED)
    assert made.events == ("touch", "temperature")  # duplicates dropped, order kept
    assert made.labels == ("name", "floor")
    assert (made.url, made.signature_secret, dict(made.headers)) == (HOOK, "s", {"X-A": "1"})


def test_create_accepts_every_event_type_and_the_name_field() -> None:
    made = create({"httpConfig": {"url": HOOK}, "events": sorted(EVENT_TYPES), "name": "x"})
    assert set(made.events) == EVENT_TYPES


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"httpConfig": {}},
        {"httpConfig": None},
        {"httpConfig": {"signatureSecret": "s"}},
        {"httpConfig": {"url": HOOK}, "status": SYSTEM_DISABLED},
        {"httpConfig": {"url": HOOK}, "type": "AWS_SQS"},
        {"httpConfig": {"url": HOOK}, "events": ["nope"]},
        {"httpConfig": {"url": HOOK}, "labels": [""]},
        {"httpConfig": {"url": HOOK}, "displayName": "x" * 257},
        {"httpConfig": {"url": HOOK}, "displayName": "a\0b"},
        {"httpConfig": {"url": HOOK}, "extra": 1},
        {"httpConfig": {"url": HOOK, "extra": 1}},
    ],
)
def test_create_refuses(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        create(body)


def test_secret_is_masked_only_when_set_and_hidden() -> None:
    masked = connector_json(CURRENT, show_secret=False)
    assert masked["httpConfig"]["signatureSecret"] == MASKED_SECRET
    assert connector_json(CURRENT, show_secret=True)["httpConfig"]["signatureSecret"] == "old"
    unsigned = create({"httpConfig": {"url": HOOK}})
    assert connector_json(unsigned, show_secret=False)["httpConfig"]["signatureSecret"] == ""
    assert "old" not in repr(CURRENT)


# --- PATCH without a mask: fields present change, httpConfig merges key by key ----------------


def test_empty_patch_changes_nothing() -> None:
    assert patch({}) == CURRENT
    assert patch({"httpConfig": {}}) == CURRENT


def test_patch_of_only_the_secret_keeps_url_and_headers() -> None:
    changed = patch({"httpConfig": {"signatureSecret": "new"}})
    assert changed == Connector(**{**CURRENT.__dict__, "signature_secret": "new"})


def test_patch_of_only_headers_replaces_the_header_map() -> None:
    changed = patch({"httpConfig": {"headers": {"x-other": "2"}}})
    assert dict(changed.headers) == {"x-other": "2"}
    assert (changed.url, changed.signature_secret) == (HOOK, "old")


def test_patch_of_the_url_keeps_the_rest() -> None:
    changed = patch({"httpConfig": {"url": "https://other.example.com/"}})
    assert changed.url == "https://other.example.com/"
    assert (changed.signature_secret, dict(changed.headers)) == ("old", {"x-api-key": "abc"})


def test_patch_changes_only_the_top_level_fields_present() -> None:
    changed = patch({"displayName": "new", "events": []})
    assert (changed.display_name, changed.events) == ("new", ())
    assert (changed.labels, changed.status, changed.url) == (("name",), ACTIVE, HOOK)


def test_patch_can_clear_the_secret() -> None:
    assert patch({"httpConfig": {"signatureSecret": ""}}).signature_secret == ""


@pytest.mark.parametrize("status", [ACTIVE, USER_DISABLED])
def test_patch_status(status: str) -> None:
    disabled = Connector(**{**CURRENT.__dict__, "status": SYSTEM_DISABLED})
    assert patch({"status": status}, current=disabled).status == status


def test_patch_refuses_system_disabled_and_leaves_input_alone() -> None:
    with pytest.raises(BadRequest):
        patch({"status": SYSTEM_DISABLED})
    with pytest.raises(BadRequest):
        patch({"displayName": "x", "httpConfig": {"url": "http://example.com"}})


def test_patch_accepts_the_resource_it_was_given() -> None:
    """A client that sends back a GET's body (name and type included) changes nothing."""
    assert patch(connector_json(CURRENT, show_secret=True)) == CURRENT


# --- PATCH with a mask: named fields change, absent named fields are cleared ------------------


def test_mask_limits_the_change_to_named_fields() -> None:
    changed = patch({"displayName": "new", "events": ["temperature"]}, "displayName")
    assert (changed.display_name, changed.events) == ("new", ("touch",))


def test_mask_naming_a_sub_field_changes_only_it() -> None:
    body = {"httpConfig": {"url": "https://other.example.com/", "signatureSecret": "new"}}
    changed = patch(body, "httpConfig.signatureSecret")
    assert (changed.url, changed.signature_secret) == (HOOK, "new")


def test_mask_naming_an_absent_field_clears_it() -> None:
    changed = patch({}, "displayName,labels,httpConfig.headers,httpConfig.signatureSecret")
    assert (changed.display_name, changed.labels) == ("", ())
    assert (dict(changed.headers), changed.signature_secret, changed.url) == ({}, "", HOOK)


def test_mask_naming_whole_httpconfig_merges_key_by_key() -> None:
    changed = patch({"httpConfig": {"signatureSecret": "new"}}, "httpConfig")
    assert (changed.url, changed.signature_secret) == (HOOK, "new")


def test_mask_accepts_spaces_and_empty_entries() -> None:
    changed = patch({"displayName": "new", "labels": []}, " displayName , ,labels")
    assert (changed.display_name, changed.labels) == ("new", ())


@pytest.mark.parametrize("mask", ["", " ", ","])
def test_empty_mask_counts_as_none(mask: str) -> None:
    assert patch({"displayName": "new"}, mask).display_name == "new"


@pytest.mark.parametrize("mask", ["nope", "httpConfig.nope", "displayName,http_config", "url"])
def test_unknown_mask_paths_are_refused(mask: str) -> None:
    with pytest.raises(BadRequest):
        patch_paths({}, mask)


def test_mask_clearing_the_url_is_refused() -> None:
    with pytest.raises(BadRequest):
        patch({}, "httpConfig.url")


def test_unknown_body_fields_are_refused_even_outside_the_mask() -> None:
    with pytest.raises(BadRequest):
        patch({"displayName": "x", "nope": 1}, "displayName")


# --- headers ----------------------------------------------------------------------------------


def test_headers_keep_names_and_values() -> None:
    headers = {"X-Api-Key": "abc", "Authorization": "Bearer t", "x_custom.1~": ""}
    assert parse_headers(headers) == headers


@pytest.mark.parametrize(
    "headers",
    [
        [],
        "x: y",
        {"bad name": "v"},
        {"": "v"},
        {"x:y": "v"},
        {"é": "v"},
        {"x": 1},
        {"x": None},
        {"x": "a\r\nInjected: 1"},
        {"x": "a\nb"},
        {"x": "a\0b"},
        {"x": "v" * 4097},
        {f"x-{i}": "v" for i in range(51)},
        {"Content-Type": "text/plain"},
        {"content-length": "1"},
        {"Host": "elsewhere"},
        {"X-DT-Signature": "forged"},
        {"Transfer-Encoding": "chunked"},
        {"Connection": "close"},
    ],
)
def test_bad_headers_are_refused(headers: Any) -> None:
    with pytest.raises(BadRequest):
        parse_headers(headers)


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        HOOK,
        "https://example.com",
        "https://example.com:8443/a?b=c#d",
        "https://8.8.8.8/hook",
        "https://[2001:4860:4860::8888]/hook",
        "https://xn--bcher-kva.example/hook",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert parse_url(url, allow_insecure=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/hook",
        "example.com/hook",
        "https://",
        "https:///path",
        "",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://user:pw@example.com/",
        "https://user@example.com/",
        "https://[::1/",
        "https://example.com/" + "a" * 2048,
        "https://exa\0mple.com/",
    ],
)
def test_malformed_or_insecure_urls_are_refused(url: str) -> None:
    with pytest.raises(BadRequest):
        parse_url(url, allow_insecure=False)


@pytest.mark.parametrize(
    "host",
    [
        "localhost", "LocalHost.", "api.localhost", "printer.local", "db.internal",
        "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0.0.0.0", "10.1.2.3", "172.16.0.1",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "[::1]", "[fe80::1]", "[fd00::1]",
        "[::ffff:127.0.0.1]", "[::]",
    ],
)
def test_private_hosts_are_refused_unless_allowed(host: str) -> None:
    url = f"https://{host}/hook"
    with pytest.raises(BadRequest):
        parse_url(url, allow_insecure=False)
    assert parse_url(url, allow_insecure=True) == url


def test_insecure_setting_allows_http_but_not_other_schemes() -> None:
    assert parse_url("http://127.0.0.1:8080/hook", allow_insecure=True)
    for url in ("ftp://example.com/", "file:///etc/passwd", "ws://example.com/"):
        with pytest.raises(BadRequest):
            parse_url(url, allow_insecure=True)


@pytest.mark.parametrize("value", [None, 5, ["https://example.com"], {"url": HOOK}])
def test_url_must_be_text(value: Any) -> None:
    with pytest.raises(BadRequest):
        parse_url(value, allow_insecure=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000/", "https://localhost:5000/"])
def test_refusing_a_local_target_says_how_to_allow_it_in_development(url: str) -> None:
    with pytest.raises(BadRequest) as refusal:
        parse_url(url, allow_insecure=False)
    assert "GATEWAY_ALLOW_INSECURE_TARGETS=true" in refusal.value.message


def test_refusing_another_scheme_does_not_suggest_the_development_setting() -> None:
    with pytest.raises(BadRequest) as refusal:
        parse_url("ftp://example.com/hook", allow_insecure=False)
    assert "GATEWAY_ALLOW_INSECURE_TARGETS" not in refusal.value.message
