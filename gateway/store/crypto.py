"""Secrets sealed at rest: AES-256-GCM (from `cryptography`) under the gateway's secret key.

Why here: sealing is how the store keeps a secret, so the store seals what it writes and opens
what it reads; the rest of the gateway sees plain values and a database dump sees none.

A sealed value is `version (1 byte) | key id (8) | nonce (12) | ciphertext and tag`. The key
id (a hash of the key, not the key) tells at start-up which key a stored value needs, so a
wrong or missing key stops the gateway before it signs anything. Each value is bound to its
place (the row it belongs to) as associated data: a value copied to another row does not open.

`GATEWAY_SECRET_KEY` holds one key or several, comma-separated: the first seals, all open, so
a key is replaced by putting the new one first, re-sealing (`admin reencrypt-secrets`), then
dropping the old one. Without the setting the gateway keeps a key file in its data directory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
_HEADER = len(VERSION) + KEY_ID_BYTES
KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """The secret key is missing, malformed or cannot open what is stored: the gateway stops."""


def new_key() -> str:
    """A fresh key as `GATEWAY_SECRET_KEY` takes it: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id(key: bytes) -> bytes:
    """The 8-byte id a sealed value carries for `key`."""
    return hashlib.sha256(b"data-connector-gateway secret key\0" + key).digest()[:KEY_ID_BYTES]


def parse_keys(text: str, source: str) -> tuple[bytes, ...]:
    """The keys of a comma-separated list of base64 keys; SecretKeyError names `source`."""
    keys = []
    for part in (piece.strip() for piece in text.split(",")):
        try:
            key = base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise SecretKeyError(f"{source}: a key is not base64") from None
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"{source}: each key must be 32 bytes (base64 of 32 bytes)")
        keys.append(key)
    return tuple(keys)


@dataclass(frozen=True)
class SecretBox:
    """Seals with the first key, opens with any of them."""

    keys: tuple[bytes, ...] = field(repr=False)
    _ciphers: dict[bytes, AESGCM] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise SecretKeyError("no secret key")
        object.__setattr__(self, "_ciphers", {key_id(key): AESGCM(key) for key in self.keys})

    @property
    def sealing_key_id(self) -> bytes:
        return key_id(self.keys[0])

    def opens(self, sealed_key_id: bytes) -> bool:
        """Whether a value sealed under the key with this id can be opened."""
        return sealed_key_id in self._ciphers

    def seal(self, plain: bytes, place: bytes) -> bytes:
        """`plain` sealed under the first key, bound to `place`."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        header = VERSION + self.sealing_key_id
        return header + nonce + self._ciphers[self.sealing_key_id].encrypt(nonce, plain, place)

    def open(self, sealed: bytes, place: bytes) -> bytes:
        """The plain value; SecretKeyError when no key opens it (wrong key, or tampered)."""
        if len(sealed) < _HEADER + NONCE_BYTES or sealed[:1] != VERSION:
            raise SecretKeyError("a stored secret is not a sealed value")
        cipher = self._ciphers.get(sealed[1:_HEADER])
        if cipher is None:
            raise SecretKeyError("a stored secret is sealed under a key not in GATEWAY_SECRET_KEY")
        nonce = sealed[_HEADER : _HEADER + NONCE_BYTES]
        try:
            return cipher.decrypt(nonce, sealed[_HEADER + NONCE_BYTES :], place)
        except InvalidTag:
            raise SecretKeyError("a stored secret does not open: tampered or moved") from None

    def reseal(self, sealed: bytes, place: bytes) -> bytes:
        """The value sealed again under the first key."""
        return self.seal(self.open(sealed, place), place)


def sealed_key_id(sealed: bytes) -> bytes:
    """The id of the key a sealed value needs."""
    return sealed[1:_HEADER]


def read_key_file(data_dir: Path) -> tuple[bytes, ...] | None:
    """The keys in the data directory's key file, or None when there is none."""
    path = data_dir / KEY_FILE
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SecretKeyError(f"{path} cannot be read: {error.strerror}") from None
    if mode & 0o077:
        raise SecretKeyError(f"{path} is readable by others; make it 0600")
    return parse_keys(text, str(path))


def create_key_file(data_dir: Path) -> tuple[bytes, ...]:
    """A new key file (mode 0600), or the one another process made a moment earlier."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE
    draft = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(new_key() + "\n")
    try:
        # link() fails if the file exists: two processes starting at once end up with one key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
    keys = read_key_file(data_dir)
    assert keys is not None
    return keys
