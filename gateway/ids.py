"""Identifiers in DT's style: 20 lowercase base32hex characters (the xid format)."""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuv"
ID_PATTERN = re.compile(r"^[0-9a-v]{20}$")


def new_id() -> str:
    """A fresh, roughly time-ordered id: 4 bytes of seconds and 8 random bytes, base32hex."""
    raw = int(time.time()).to_bytes(4, "big") + os.urandom(8)
    number = int.from_bytes(raw, "big")
    return "".join(_ALPHABET[(number >> shift) & 31] for shift in range(95, -1, -5))


def is_id(text: str) -> bool:
    return bool(ID_PATTERN.match(text))
