"""Identifiers in DT's style: 20 lowercase base32hex characters (the xid format)."""

from __future__ import annotations

import os
import re
import time

ID_PATTERN = re.compile(r"^[0-9a-v]{20}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuv"  # base32hex, lower case
# Every 10 bits as its two characters: an id is 10 lookups (base64's b32 encoder is Python code,
# and a publish makes an id per event).
_PAIRS = [a + b for a in _DIGITS for b in _DIGITS]


def new_id() -> str:
    """A fresh, roughly time-ordered id: 4 bytes of seconds and 8 random bytes, base32hex."""
    raw = int(time.time()).to_bytes(4, "big") + os.urandom(8)
    # 96 bits take 20 characters (the last carries one bit), as in xid.
    bits = int.from_bytes(raw, "big") << 4
    return "".join([_PAIRS[(bits >> shift) & 1023] for shift in range(90, -1, -10)])


def is_id(text: str) -> bool:
    return bool(ID_PATTERN.match(text))
