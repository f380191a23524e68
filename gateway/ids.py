"""Identifiers in DT's style: 20 lowercase base32hex characters (the xid format)."""

from __future__ import annotations

import base64
import os
import re
import time

ID_PATTERN = re.compile(r"^[0-9a-v]{20}$")


def new_id() -> str:
    """A fresh, roughly time-ordered id: 4 bytes of seconds and 8 random bytes, base32hex."""
    raw = int(time.time()).to_bytes(4, "big") + os.urandom(8)
    # 96 bits take 20 characters (the last carries one bit), as in xid.
    return base64.b32hexencode(raw)[:20].decode().lower()


def is_id(text: str) -> bool:
    return bool(ID_PATTERN.match(text))
