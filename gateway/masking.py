"""Where a connector keeps credentials besides its signing secrets, and the mask that hides them.

A broker URL may carry a password, or a token as its lone user part (NATS); a type's config may
hold one under a key of `SECRET_CONFIG_KEYS` (NATS `credentials`); an HTTP push's custom header
values (`Authorization`, `x-api-key`) are treated as credentials too. The API shows the mask to
read-only roles, and the store keeps the masked URL and headers in clear while the real ones
are sealed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

MASK: Final = "********"
SECRET_CONFIG_KEYS: Final = ("credentials",)


def mask_url(url: Any) -> Any:
    """A URL with its password (or its token: NATS's lone user part) replaced by the mask."""
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    try:
        has_password = parts.password is not None
    except ValueError:
        return url
    if not parts.username and not has_password:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:{MASK}" if has_password else MASK
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def mask_values(mapping: Mapping[str, str]) -> dict[str, str]:
    """Every non-empty value of a mapping masked; its keys (header names) stay visible."""
    return {key: MASK if value else value for key, value in mapping.items()}
