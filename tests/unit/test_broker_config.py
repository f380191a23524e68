"""The broker config checks: the small schema validator agrees with `jsonschema` (the reference
implementation) on any input, and the helpers around it do what they say."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.api.connector_types import CATALOG, _check
from gateway.errors import BadRequest
from gateway.masking import mask_url
from gateway.push.senders import Message, redact

BROKERS = [entry for entry in CATALOG if entry.type != "HTTP_PUSH"]
# No NUL: the gateway refuses it in any text (PostgreSQL cannot store it), beyond the schema.
TEXT = st.text(alphabet=st.characters(blacklist_characters="\0"), max_size=12)
PIECES = st.sampled_from(
    ["{projectId}", "{deviceId}", "{eventType}", "{other}", "{", "}", "#", "+", "*", ">", " ",
     ".", "amqps://", "mqtt://", "tls://", "rediss://", "x"]
)  # fmt: skip
TEMPLATE_TEXT = st.lists(st.one_of(PIECES, TEXT), max_size=5).map("".join)
VALUES = st.one_of(
    TEMPLATE_TEXT, st.integers(-5, 2_000_000_000), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.floats(allow_nan=False), st.just(10.0),
    st.text(min_size=1030, max_size=1030),
)  # fmt: skip


def config_strategy(entry: Any) -> st.SearchStrategy[Any]:
    names = st.sampled_from([*entry.properties, "unknown"])
    return st.one_of(
        st.dictionaries(names, VALUES, max_size=6),
        st.fixed_dictionaries({key: VALUES for key in entry.schema["required"]}),
        st.just(dict(entry.sample)),
        VALUES,
    )


@pytest.mark.parametrize("entry", BROKERS, ids=lambda entry: entry.type)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_validator_agrees_with_jsonschema(entry: Any, data: st.DataObject) -> None:
    config = data.draw(config_strategy(entry))
    reference = jsonschema.Draft202012Validator(entry.schema)
    try:
        _check(config, entry.schema, entry.config_key)
        accepted = True
    except BadRequest:
        accepted = False
    assert accepted == reference.is_valid(config), config


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("amqps://user:secret@h/vhost", "amqps://user:********@h/vhost"),
        ("tls://tok@h:4222", "tls://********@h:4222"),
        ("rediss://:pw@h:6380/0", "rediss://:********@h:6380/0"),
        ("mqtts://h:8883", "mqtts://h:8883"),
    ],
)
def test_urls_are_masked_without_losing_the_rest(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_templates_are_filled_from_the_message() -> None:
    message = Message(b"{}", {}, "p1", "d1", "touch", "e1", 7)
    assert message.render("{projectId}/{deviceId}/{eventType}/x") == "p1/d1/touch/x"


def test_error_texts_lose_the_connectors_credentials() -> None:
    text = "cannot log in to amqps://gw:pa%2Fss@h as gw with pa/ss; creds ABC"
    cleaned = redact(text, "amqps://gw:pa%2Fss@h", {"credentials": "ABC"})
    assert "pa%2Fss" not in cleaned and "pa/ss" not in cleaned and "ABC" not in cleaned
