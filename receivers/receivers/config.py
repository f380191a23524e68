"""Where adapters find the signature secret."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Protocol

from receivers.push import Push
from receivers.verify import Body, HeaderMap, Verifier

SECRET_ENV = "DT_SIGNATURE_SECRET"


class PushVerifier(Protocol):
    """What adapters call: `Verifier`, `AsymmetricVerifier`, `StandardWebhooksVerifier`."""

    def verify(self, body: Body, headers: HeaderMap) -> Push: ...


def resolve_secret(secret: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """`secret` if given, else the `DT_SIGNATURE_SECRET` environment variable.

    Raises `ValueError` naming the variable when neither holds a non-empty string.
    """
    if secret is None:
        secret = (os.environ if environ is None else environ).get(SECRET_ENV)
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"no signature secret: pass one or set {SECRET_ENV}")
    return secret


DISCOVERY_ENV = "DT_DISCOVERY_URL"


def resolve_verifier(
    secret: str | None, leeway: float, clock: Callable[[], float],
    environ: Mapping[str, str] | None = None,
) -> PushVerifier:
    """The HS256 verifier when a secret is given or in `DT_SIGNATURE_SECRET`; else, when
    `DT_DISCOVERY_URL` is set, the asymmetric one (no secret). ValueError names both."""
    environ = os.environ if environ is None else environ
    if secret is None and not environ.get(SECRET_ENV) and environ.get(DISCOVERY_ENV):
        from receivers.asymmetric import AsymmetricVerifier

        return AsymmetricVerifier(environ[DISCOVERY_ENV], leeway=leeway, clock=clock)
    try:
        return Verifier(resolve_secret(secret, environ), leeway=leeway, clock=clock)
    except ValueError:
        raise ValueError(
            f"no signature secret: pass one or set {SECRET_ENV} (or {DISCOVERY_ENV} to verify "
            "DT-Asymmetric-Signature without a secret)"
        ) from None
