"""Running DT's SDK against the gateway: its calls off the event loop, its event stream in a
thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import disruptive as dt
import disruptive.requests as dtrequests
import pytest

from tests.harness import Account, Gateway

T = TypeVar("T")


async def sdk(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call off the event loop."""
    return await asyncio.to_thread(call, *args, **kwargs)


def sdk_auth(gateway: Gateway, key_id: str, secret: str, email: str) -> Any:
    """The SDK's OAuth2 credentials for one key, with the gateway's token endpoint."""
    credentials = dt.Auth.service_account(key_id, secret, email)
    credentials.token_endpoint = str(gateway.client.make_url("/oauth2/token"))
    return credentials


def account_auth(gateway: Gateway, account: Account) -> Any:
    return sdk_auth(gateway, account.key_id, account.secret, account.email)


@pytest.fixture
def sdk_globals() -> Iterator[None]:
    """Restore the SDK's module globals, and its shared paging params, after the test."""
    paginated_get = dtrequests.DTRequest.paginated_get.__func__  # type: ignore[attr-defined]
    saved = (dt.base_url, dt.emulator_base_url, dt.default_auth, dt.request_attempts,
             paginated_get.__defaults__)
    # paginated_get's `params={}` default is shared: a pageToken left there by one paged listing
    # would start the next listing mid-way. Start clean.
    paginated_get.__defaults__ = ({},)
    try:
        yield
    finally:
        (dt.base_url, dt.emulator_base_url, dt.default_auth, dt.request_attempts,
         paginated_get.__defaults__) = saved


class SdkStream:
    """`dt.Stream.event_stream` consumed in a daemon thread, its events collected as they come.

    The SDK's generator blocks between lines; the thread ends when the stream fails for good or,
    after `stop()`, at the next line (a ping at the latest).
    """

    def __init__(self, project_id: str, **filters: Any) -> None:
        self.events: list[Any] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(project_id, filters), daemon=True
        )
        self._thread.start()

    def _run(self, project_id: str, filters: dict[str, Any]) -> None:
        try:
            for event in dt.Stream.event_stream(project_id, **filters):
                self.events.append(event)
                if self._stop.is_set():
                    return
        except BaseException as error:  # the test reads it
            self.error = error

    def stop(self) -> None:
        self._stop.set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def ids(self) -> list[str]:
        return [event.event_id for event in self.events]
