"""Start-up failures become one line naming the setting to change."""

from __future__ import annotations

import errno
import socket

import asyncpg
import pytest

from gateway.config import Settings
from gateway.failures import explain

SETTINGS = Settings(host="127.0.0.1", port=8080)


@pytest.mark.parametrize(
    ("error", "setting"),
    [
        (OSError(errno.EADDRINUSE, "address already in use"), "GATEWAY_PORT"),
        (OSError(errno.EACCES, "permission denied"), "GATEWAY_PORT"),
        (OSError(errno.EADDRNOTAVAIL, "cannot assign requested address"), "GATEWAY_HOST"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "connect call failed"), "GATEWAY_DATABASE_URL"),
        (socket.gaierror(-2, "Name or service not known"), "GATEWAY_DATABASE_URL"),
        (asyncpg.InvalidPasswordError("password authentication failed"), "GATEWAY_DATABASE_URL"),
        (asyncpg.InvalidCatalogNameError('database "x" does not exist'), "GATEWAY_DATABASE_URL"),
        (TimeoutError(), "GATEWAY_DATABASE_URL"),
    ],
)
def test_a_start_up_failure_names_its_setting(error: BaseException, setting: str) -> None:
    message = explain(error, SETTINGS)
    assert message is not None
    assert setting in message
    assert "\n" not in message


def test_the_busy_address_is_named() -> None:
    message = explain(OSError(errno.EADDRINUSE, "in use"), SETTINGS)
    assert message is not None and message.startswith("127.0.0.1:8080 is already in use")


def test_other_errors_keep_their_traceback() -> None:
    assert explain(ValueError("a bug"), SETTINGS) is None
    assert explain(OSError(errno.ENOENT, "no such file", "/x"), SETTINGS) is None
