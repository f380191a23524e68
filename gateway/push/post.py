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
import yarl

from gateway.push.addresses import is_public_url, public_socket

# Read this much of an answer at most; the status is all that counts.
_ANSWER_LIMIT = 64 * 1024
EXCERPT_LIMIT = 1024  # what a result keeps of a text or JSON answer
_MESSAGE_LIMIT = 200
_TEXT_TYPES = ("text/", "application/json", "application/problem+json")


@dataclass(frozen=True, slots=True)
class PushResult:
    """How one push ended: a status, or an error class with a short message."""

    status: int | None
    elapsed: float
    error: str | None = None  # timeout, tls, dns, connection_refused, connection, target_refused
    message: str | None = None
    retry_after: float | None = None
    excerpt: str | None = None  # the first KiB of a text or JSON answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def timed_out(self) -> bool:
        return self.error == "timeout"


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


def refused_target(url: str) -> str | None:
    """Why the current rule refuses `url` when private targets are refused, or None."""
    if yarl.URL(url).scheme != "https":
        return "only https:// targets are allowed"
    if not is_public_url(url):
        return "the target is not a public address"
    return None


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    public_only: bool = False,
) -> PushResult:
    """POST once. Redirects are not followed: a 3xx is a failure, as DT treats it.

    With `public_only`, a URL the public-address rule refuses fails without a request, whatever
    the rule was when the connector was written.
    """
    started = time.perf_counter()
    if public_only and (reason := refused_target(url)) is not None:
        return PushResult(None, 0.0, error="target_refused", message=reason)
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as answer:
            excerpt = await _read_answer(answer)
            retry_after = None
            if answer.status in (429, 503):
                retry_after = retry_after_seconds(
                    answer.headers.get("Retry-After"), datetime.now(UTC)
                )
            return PushResult(
                answer.status, time.perf_counter() - started, retry_after=retry_after,
                excerpt=excerpt,
            )
    except TimeoutError:
        return PushResult(None, time.perf_counter() - started, error="timeout",
                          message="no answer within the push timeout")
    except (aiohttp.ClientError, OSError, ValueError) as error:
        kind, message = describe_error(error)
        return PushResult(None, time.perf_counter() - started, error=kind, message=message)


def describe_error(error: BaseException) -> tuple[str, str]:
    """An error's class (a stable word) and a short message about it."""
    text = (str(error) or type(error).__name__)[:_MESSAGE_LIMIT]
    if isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):
        return "tls", text
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "dns", text
    cause = error.os_error if isinstance(error, aiohttp.ClientConnectorError) else error
    if isinstance(cause, ConnectionRefusedError):
        return "connection_refused", text
    if isinstance(error, OSError) and "is not a public address" in str(error):
        return "target_refused", text
    if isinstance(cause, OSError) and "is not a public address" in str(cause):
        return "target_refused", text
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "invalid_response", text
    if isinstance(error, ValueError) and not isinstance(error, aiohttp.ClientError):
        return "invalid_request", text
    return "connection", text


async def _read_answer(answer: aiohttp.ClientResponse) -> str | None:
    """Read a small answer so the connection is reused; drop the connection of a large one.

    The status decides; an answer whose body stalls is cut off, not held against it. Returns
    the first KiB of a text or JSON answer.
    """
    try:
        data = await answer.content.read(_ANSWER_LIMIT)
        if not answer.content.at_eof():
            answer.close()
    except (TimeoutError, aiohttp.ClientError):
        answer.close()
        return None
    if not data or not answer.content_type.startswith(_TEXT_TYPES):
        return None
    return data[:EXCERPT_LIMIT].decode("utf-8", "replace")


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
