"""The attempt log's side of pushing: each push's outcome as an `Attempt` row, and `:test`
pushes, which are pushed at once, recorded, and never queued or retried."""

from __future__ import annotations

import time
from datetime import datetime

import aiohttp
import asyncpg

from gateway.clock import Clock
from gateway.model import Connector, EventToPush
from gateway.push import body as push_body
from gateway.push import post as push
from gateway.store import attempts, delivery_log
from gateway.store.attempts import Attempt
from gateway.store.delivery_log import TestDelivery


def attempt_of(
    result: push.PushResult,
    sent_at: datetime,
    connector: Connector,
    delivery_id: int,
    event: EventToPush,
    attempt: int,
    *,
    test: bool = False,
) -> Attempt:
    """What the log keeps of one push: the answer's status or the error, never a header."""
    return Attempt(
        time=sent_at,
        project_id=connector.project_id,
        connector_id=connector.id,
        delivery_id=delivery_id,
        event_id=event.id,
        event_type=event.event_type,
        device_id=event.device_id,
        attempt=attempt,
        status_code=result.status,
        error_class=result.error or "",
        message="",
        latency=result.elapsed,
        response="",
        test=test,
    )


class SamplePusher:
    """`:test` pushes: the connector's real URL, headers and signature, one attempt, no retry.

    Not counted in :metrics or the push metrics; the log keeps it marked as a test.
    """

    def __init__(self, session: aiohttp.ClientSession, db: asyncpg.Pool, clock: Clock) -> None:
        self._session = session
        self._db = db
        self._clock = clock

    async def __call__(self, connector: Connector, event: EventToPush) -> Attempt:
        delivery_id = await delivery_log.next_delivery_id(self._db)
        metadata = {
            "deviceId": event.device_id,
            "projectId": connector.project_id,
            "deviceType": event.device_type,
            "productNumber": "",
        }
        body = push_body.render_body(event.body, {}, connector.labels, metadata)
        headers = push_body.request_headers(connector, body, time.time())
        sent_at = self._clock()
        result = await push.post(self._session, connector.url, body, headers)
        attempt = attempt_of(result, sent_at, connector, delivery_id, event, 1, test=True)
        test = TestDelivery(
            delivery_id, connector.project_id, connector.id, event.id, event.event_type,
            event.device_id, delivered=result.ok,
        )
        async with self._db.acquire() as connection, connection.transaction():
            await attempts.write(connection, [attempt])
            await delivery_log.log_test(connection, test, sent_at)
        return attempt
