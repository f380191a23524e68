"""One request out: the POST itself, its outcome, and the process's one HTTP client (SPEC §5)."""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from gateway.push.addresses import public_socket

# Read this much of an answer at most; the status is all that counts.
_ANSWER_LIMIT = 64 * 1024


@dataclass(frozen=True)
class PushResult:
    status: int | None
    elapsed: float
    timed_out: bool = False
    retry_after: float | None = None
    error: str | None = None
    message: str | None = None
    acknowledged: bool = False  # a broker confirmed it (connectors that are not HTTP_PUSH)

    @property
    def ok(self) -> bool:
        return self.acknowledged or (self.status is not None and 200 <= self.status < 300)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header in seconds (either form), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> PushResult:
    """POST once. Redirects are not followed: a 3xx is a failure, as DT treats it."""
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as answer:
            # The status decides; an answer whose body stalls is cut off, not held against it.
            try:
                await _drain(answer)
            except (TimeoutError, aiohttp.ClientError):
                answer.close()
            retry_after = None
            if answer.status in (429, 503):
                retry_after = retry_after_seconds(
                    answer.headers.get("Retry-After"), datetime.now(UTC)
                )
            return PushResult(answer.status, time.perf_counter() - started, retry_after=retry_after)
    except TimeoutError:
        return PushResult(None, time.perf_counter() - started, timed_out=True, error="timeout")
    except (aiohttp.ClientError, OSError, ValueError) as error:
        return PushResult(None, time.perf_counter() - started, error=type(error).__name__)


async def _drain(answer: aiohttp.ClientResponse) -> None:
    """Read a small answer so the connection is reused; drop the connection of a large one."""
    await answer.content.read(_ANSWER_LIMIT)
    if not answer.content.at_eof():
        answer.close()


def client_session(
    timeout: float, concurrency: int, ca_bundle: str | None, public_only: bool
) -> aiohttp.ClientSession:
    """The one HTTP client of a process: verified TLS, bounded connections, a total timeout."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    options: dict[str, Any] = {"ssl": context, "limit": concurrency, "limit_per_host": 0}
    if public_only:
        # At connect time, for every address: IP literals never pass through a resolver.
        options["socket_factory"] = public_socket
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(**options),
        timeout=aiohttp.ClientTimeout(total=timeout),
        skip_auto_headers=("User-Agent",),
        headers={"User-Agent": "data-connector-gateway"},
    )
