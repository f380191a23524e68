"""Pushing one claimed delivery: its body and headers, the POST or broker publish, and the
attempt it makes."""

from __future__ import annotations

import structlog

from gateway.clock import Clock
from gateway.metrics import PUSH_OUTCOMES, Metrics, push_outcome
from gateway.model import Connector
from gateway.push import body as push_body
from gateway.push.asymmetric import AsymmetricSigner
from gateway.push.post import PushResult
from gateway.push.senders import Message, Senders
from gateway.store.deliveries import Attempt, DeliveryRow

log = structlog.get_logger(__name__)


class Pusher:
    """Turns a claimed delivery row into a push and its `Attempt`, counting it in metrics."""

    def __init__(
        self,
        senders: Senders,
        metrics: Metrics,
        clock: Clock,
        signer: AsymmetricSigner | None = None,
    ) -> None:
        self._senders = senders
        self._signer = signer
        self._metrics = metrics
        self._clock = clock
        self._outcomes = {o: metrics.push_attempts.labels(o) for o in PUSH_OUTCOMES}
        self.in_flight = 0
        # Read when scraped: no gauge update (and its lock) twice per push.
        metrics.pushes_in_flight.set_function(lambda: self.in_flight)

    async def push(self, row: DeliveryRow, connector: Connector) -> Attempt:
        """Send the delivery to its connector once (any type)."""
        metadata = {
            "deviceId": row["device_id"],
            "projectId": row["project_id"],
            "deviceType": row["device_type"],
            "productNumber": row["product_number"],
        }
        body = push_body.render_body(row["body"], row["labels"], connector.labels, metadata)
        # Signed at the gateway's time: a retry carries that moment's iat, exp and timestamps.
        headers = await push_body.push_headers(
            connector, body, self._clock().timestamp(), row["event_id"], self._signer
        )
        self.in_flight += 1
        try:
            message = Message(
                body, headers, row["project_id"], row["device_id"], row["event_type"],
                row["event_id"], row["id"],
            )  # fmt: skip
            result = await self._senders.send(connector, message)
        finally:
            self.in_flight -= 1
        return self._attempt(row, result)

    def _attempt(self, row: DeliveryRow, result: PushResult) -> Attempt:
        now = self._clock()
        ok = result.ok  # a broker's acknowledgement has no HTTP status
        outcome = "success" if ok else push_outcome(result.status, result.timed_out, result.error)
        self._outcomes[outcome].inc()
        self._metrics.push_duration.observe(result.elapsed)
        if result.ok:
            lag = (now - row["stored_at"]).total_seconds()
            self._metrics.delivery_lag.observe(max(0.0, lag))
        else:
            self._metrics.retries_scheduled.inc()
            log.info(
                "push_failed",
                project=row["project_id"],
                connector=row["connector_id"],
                delivery=row["id"],
                attempt=row["attempts"],
                status=result.status,
                error=result.error,
                message=result.message,
            )
        return Attempt(
            delivery_id=row["id"],
            project_id=row["project_id"],
            connector_id=row["connector_id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            device_id=row["device_id"],
            number=row["attempts"],
            at=now,
            latency=result.elapsed,
            status=result.status,
            error=result.error,
            message=result.message,
            retry_after=result.retry_after,
            response_excerpt=result.excerpt,
            acknowledged=result.acknowledged,
        )
