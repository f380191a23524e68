"""One request out: the POST itself, its outcome, and the process's one HTTP client (SPEC §5)."""

from __future__ import annotations

import email.utils
import functools
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import yarl

from gateway.push.addresses import TargetRefused, is_public_url
from gateway.push.http_client import HttpClient
from gateway.push.http_connection import Answer, AnswerError

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
    acknowledged: bool = False  # a broker confirmed it (connectors that are not HTTP_PUSH)

    @property
    def ok(self) -> bool:
        return self.acknowledged or (self.status is not None and 200 <= self.status < 300)

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


@functools.lru_cache(maxsize=4096)  # one parse per URL, not per push
def _parsed(url: str) -> yarl.URL:
    return yarl.URL(url)


@functools.lru_cache(maxsize=4096)  # one check per URL, not per push
def refused_target(url: str) -> str | None:
    """Why the current rule refuses `url` when private targets are refused, or None."""
    if _parsed(url).scheme != "https":
        return "only https:// targets are allowed"
    if not is_public_url(url):
        return "the target is not a public address"
    return None


async def post(
    client: HttpClient,
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
        answer = await client.post(_parsed(url), headers, body)
    except TimeoutError:
        return PushResult(None, time.perf_counter() - started, error="timeout",
                          message="no answer within the push timeout")
    except (AnswerError, OSError, ValueError) as error:
        kind, message = describe_error(error)
        return PushResult(None, time.perf_counter() - started, error=kind, message=message)
    retry_after = None
    if answer.status in (429, 503):
        retry_after = retry_after_seconds(answer.retry_after, datetime.now(UTC))
    return PushResult(
        answer.status, time.perf_counter() - started, retry_after=retry_after,
        excerpt=_excerpt(answer),
    )  # fmt: skip


def describe_error(error: BaseException) -> tuple[str, str]:
    """An error's class (a stable word) and a short message about it."""
    text = (str(error) or type(error).__name__)[:_MESSAGE_LIMIT]
    if isinstance(error, ssl.SSLError):
        return "tls", text
    if isinstance(error, socket.gaierror):
        return "dns", text
    if isinstance(error, ConnectionRefusedError):
        return "connection_refused", text
    if isinstance(error, TargetRefused):
        return "target_refused", text
    if isinstance(error, AnswerError):
        return "invalid_response", text
    if isinstance(error, ValueError):
        return "invalid_request", text
    return "connection", text


def _excerpt(answer: Answer) -> str | None:
    """The first KiB of a text or JSON answer."""
    if not answer.body or not answer.content_type.startswith(_TEXT_TYPES):
        return None
    return answer.body[:EXCERPT_LIMIT].decode("utf-8", "replace")


def http_client(
    timeout: float, concurrency: int, ca_bundle: str | None, public_only: bool
) -> HttpClient:
    """The one HTTP client of a process's pushes: verified TLS, kept-alive connections."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return HttpClient(timeout, concurrency, context, public_only)
