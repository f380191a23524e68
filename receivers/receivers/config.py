"""Where adapters find the signature secret."""

from __future__ import annotations

import os
from collections.abc import Mapping

SECRET_ENV = "DT_SIGNATURE_SECRET"


def resolve_secret(secret: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """`secret` if given, else the `DT_SIGNATURE_SECRET` environment variable.

    Raises `ValueError` naming the variable when neither holds a non-empty string.
    """
    if secret is None:
        secret = (os.environ if environ is None else environ).get(SECRET_ENV)
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"no signature secret: pass one or set {SECRET_ENV}")
    return secret
