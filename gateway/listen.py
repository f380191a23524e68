"""`python -m gateway listen`: receive a project's pushes on this machine, like `stripe listen`.

It starts a receiver on loopback, creates a temporary data connector that points at it with a
fresh signature secret, prints every push as it arrives (checked as a receiver would check it),
and deletes the connector when it stops (Ctrl-C, SIGTERM, or an error).

It talks to a running gateway over its API, as a service account: `--key-id`/`--secret`, or the
`DT_SERVICE_ACCOUNT_KEY_ID`/`DT_SERVICE_ACCOUNT_SECRET` variables DT's SDK reads. The gateway
must allow local targets (`GATEWAY_ALLOW_INSECURE_TARGETS=true`); `listen` never works around it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from gateway.config import Settings
from gateway.ingest.eventdata import parse_timestamp
from gateway.pushcheck import Keys, Verdict, check_push

KEY_ID_VARIABLE = "DT_SERVICE_ACCOUNT_KEY_ID"
SECRET_VARIABLE = "DT_SERVICE_ACCOUNT_SECRET"


class ListenError(Exception):
    """Why `listen` cannot start, in one line for the terminal."""


@dataclass(frozen=True)
class Options:
    """What to listen to, and how to reach the gateway."""

    api_url: str
    key_id: str
    secret: str
    project: str
    events: list[str]
    labels: list[str]
    port: int


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The `listen` command's flags."""
    command.add_argument("--project", required=True, help="project whose pushes to receive")
    command.add_argument(
        "--connector-events", default="", help="event types, comma-separated (default: all)"
    )
    command.add_argument(
        "--labels", default="name", help="device label keys to include, comma-separated"
    )
    command.add_argument("--port", type=int, default=0, help="receiver port (0 = any free port)")
    command.add_argument(
        "--url", default=None, help="the gateway's address (default: from GATEWAY_PUBLIC_URL, "
        "else http://GATEWAY_HOST:GATEWAY_PORT)",
    )  # fmt: skip
    command.add_argument(
        "--key-id", default=None, help=f"service account key id (or ${KEY_ID_VARIABLE})"
    )
    command.add_argument(
        "--secret", default=None, help=f"service account secret (or ${SECRET_VARIABLE})"
    )


def options_from(arguments: argparse.Namespace, settings: Settings) -> Options:
    """The options from flags, then the environment; a ListenError names what is missing."""
    key_id = arguments.key_id or os.environ.get(KEY_ID_VARIABLE, "")
    secret = arguments.secret or os.environ.get(SECRET_VARIABLE, "")
    if not key_id or not secret:
        raise ListenError(
            f"listen needs a service account: --key-id and --secret, or {KEY_ID_VARIABLE} and "
            f"{SECRET_VARIABLE} (python -m gateway admin create-service-account prints them)"
        )
    url = arguments.url or settings.public_url or f"http://{settings.host}:{settings.port}"
    return Options(
        api_url=url.rstrip("/") + "/v2", key_id=key_id, secret=secret, project=arguments.project,
        events=_words(arguments.connector_events), labels=_words(arguments.labels),
        port=arguments.port,
    )  # fmt: skip


def basic_auth(key_id: str, secret: str) -> dict[str, str]:
    """The Authorization header of a service account's Basic auth."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def describe(verdict: Verdict, now: datetime) -> str:
    """One line per push: event type, device, labels, verified or why not, latency."""
    if not verdict.push:
        return f"{now:%H:%M:%S}  NOT VERIFIED: {verdict.failure}"
    event, labels = verdict.push["event"], verdict.push.get("labels") or {}
    device = str(event.get("targetName", "")).rsplit("/", 1)[-1]
    try:
        lag = f"{(now - parse_timestamp(event['timestamp'])).total_seconds() * 1000:.0f} ms"
    except (KeyError, TypeError, ValueError):
        lag = "?"
    shown = ", ".join(f"{key}={value}" for key, value in labels.items()) or "-"
    check = (
        "verified " + "+".join(verdict.schemes)
        if verdict.verified
        else (f"NOT VERIFIED: {verdict.failure}")
    )
    return f"{now:%H:%M:%S}  {event.get('eventType', '?'):<13} {device}  [{shown}]  {check}  {lag}"


def receiver(keys: Keys, show: Callable[[str], None]) -> web.Application:
    """A receiver answering 200 to a verified push and 400 to anything else, showing each."""

    async def receive(request: web.Request) -> web.Response:
        verdict = check_push(await request.read(), request.headers, keys)
        show(describe(verdict, datetime.now(UTC)))
        if not verdict.verified:
            return web.Response(status=400, text="Could not verify request.")
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/{path:.*}", receive)
    return app


async def _call(
    client: aiohttp.ClientSession, method: str, url: str, **kw: object
) -> dict[str, object]:
    """One API call; a ListenError says in one line why it failed."""
    try:
        async with client.request(method, url, **kw) as answer:  # type: ignore[arg-type]
            body = await answer.json(content_type=None)
            if answer.status == 200 and isinstance(body, dict):
                return body
            message = body.get("error", "") if isinstance(body, dict) else ""
            raise ListenError(_explain(answer.status, str(message)))
    except aiohttp.ClientConnectionError as error:
        raise ListenError(
            f"cannot reach the gateway at {url} ({error}): is it running? (--url)"
        ) from None
    except ValueError:
        raise ListenError(f"{url} did not answer like the gateway: check --url") from None


def _explain(status: int, message: str) -> str:
    if "GATEWAY_ALLOW_INSECURE_TARGETS" in message:
        return (
            "the gateway refuses pushes to this machine: restart it with "
            "GATEWAY_ALLOW_INSECURE_TARGETS=true (development only)"
        )
    if status == 401:
        return f"the gateway refused the service account ({message}): check the key id and secret"
    if status == 403:
        return f"the service account may not create connectors in this project ({message})"
    return f"the gateway answered {status}: {message}"


async def _create_connector(
    client: aiohttp.ClientSession, options: Options, url: str, keys: Keys
) -> str:
    body = {
        "displayName": f"listen {url} (temporary)", "events": options.events,
        "labels": options.labels,
        "httpConfig": {"url": url, "signatureSecret": keys.secret},
    }  # fmt: skip
    created = await _call(
        client, "POST", f"{options.api_url}/projects/{options.project}/dataconnectors", json=body
    )
    return str(created["name"]).rsplit("/", 1)[-1]


async def _delete_connector(
    client: aiohttp.ClientSession, path: str, connector: str, show: Callable[[str], None]
) -> None:
    try:
        await _call(client, "DELETE", path)
    except ListenError as error:
        show(f"could not delete the temporary connector {connector} ({error}): DELETE {path}")
        raise
    show(f"deleted the temporary connector {connector}")


async def listen(options: Options, stop: asyncio.Event, show: Callable[[str], None]) -> None:
    """Receive pushes until `stop` is set; the temporary connector is deleted on the way out."""
    keys = Keys(secret=secrets.token_urlsafe(32))
    runner = web.AppRunner(receiver(keys, show), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", options.port)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        async with aiohttp.ClientSession(
            headers=basic_auth(options.key_id, options.secret)
        ) as client:
            connector = await _create_connector(client, options, url, keys)
            path = f"{options.api_url}/projects/{options.project}/dataconnectors/{connector}"
            try:
                kinds = ", ".join(options.events) or "every event type"
                show(f"Ready: pushes of project {options.project} ({kinds}) arrive at {url}")
                show(f"through the temporary connector {connector}; Ctrl-C deletes it and stops.")
                await stop.wait()
            finally:
                await _delete_connector(client, path, connector, show)
    finally:
        await runner.cleanup()


def run_listen(arguments: argparse.Namespace, settings: Settings) -> int:
    """The `listen` command: until Ctrl-C or SIGTERM; 1 with one line on stderr if it fails."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await listen(options_from(arguments, settings), stop, lambda line: print(line, flush=True))

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # before the receiver was up: nothing to clean up
        return 130
    except ListenError as error:
        print(f"listen: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(
            f"listen: cannot open the receiver's port ({error.strerror}): try another --port",
            file=sys.stderr,
        )
        return 1
    return 0
