"""The attempt log's writers: the recorder's sink that keeps every attempt and every delivered
delivery, and `:test` pushes, which are pushed at once, recorded, and never queued or retried."""

from __future__ import annotations

import asyncpg

from gateway.clock import Clock
from gateway.model import Connector, EventToPush
from gateway.push import body as push_body
from gateway.push.asymmetric import AsymmetricSigner
from gateway.push.senders import Message, Senders
from gateway.store import Connection, attempts, delivery_log
from gateway.store.deliveries import Attempt, OutcomeBatch
from gateway.store.delivery_log import TestDelivery


class AttemptLog:
    """A recorder sink: each batch's attempts by COPY, its delivered deliveries moved from the
    queue to the log, in the batch's transaction (`GATEWAY_ATTEMPT_LOG`)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def __call__(self, connection: Connection, batch: OutcomeBatch) -> None:
        await attempts.write(connection, batch.attempts)
        delivered = [attempt for attempt in batch.attempts if attempt.ok]
        if delivered:
            await delivery_log.finish(connection, delivered, self._clock())


class SamplePusher:
    """`:test` pushes: the connector's real URL, headers and signature, one attempt, no retry.

    Not counted in :metrics or the push metrics; the log keeps it marked as a test.
    """

    def __init__(
        self,
        senders: Senders,
        db: asyncpg.Pool,
        clock: Clock,
        signer: AsymmetricSigner | None = None,
    ) -> None:
        self._senders = senders  # every connector type: an HTTP POST or a broker publish
        self._db = db
        self._clock = clock
        self._signer = signer

    async def __call__(self, connector: Connector, event: EventToPush) -> Attempt:
        delivery_id = await delivery_log.next_delivery_id(self._db)
        metadata = {
            "deviceId": event.device_id,
            "projectId": connector.project_id,
            "deviceType": event.device_type,
            "productNumber": "",
        }
        body = push_body.render_body(event.body, {}, connector.labels, metadata)
        headers = await push_body.push_headers(
            connector, body, self._clock().timestamp(), event.id, self._signer
        )
        result = await self._senders.send(connector, Message(
            body, headers, connector.project_id, event.device_id, event.event_type, event.id,
            delivery_id,
        ))  # fmt: skip
        now = self._clock()
        attempt = Attempt(
            delivery_id=delivery_id, project_id=connector.project_id, connector_id=connector.id,
            event_id=event.id, event_type=event.event_type, device_id=event.device_id, number=1,
            at=now, latency=result.elapsed, status=result.status, error=result.error,
            message=result.message, response_excerpt=result.excerpt,
            acknowledged=result.acknowledged,
        )
        test = TestDelivery(
            delivery_id, connector.project_id, connector.id, event.id, event.event_type,
            event.device_id, delivered=result.ok,
        )
        async with self._db.acquire() as connection, connection.transaction():
            await attempts.write(connection, [attempt], test=True)
            await delivery_log.log_test(connection, test, now)
        return attempt
