"""Periodic upkeep: the queue gauges, expiry of old deliveries, retention of old data."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import structlog

from gateway.clock import Clock
from gateway.config import Settings
from gateway.errors import DATABASE_UNAVAILABLE
from gateway.metrics import Metrics
from gateway.model import EXPIRED
from gateway.store import accounts, attempts, connectors, deliveries, stats

SNAPSHOT_EVERY = 5.0
SWEEP_EVERY = 60.0
BATCH = 5000

log = structlog.get_logger(__name__)


async def refresh_snapshot(db: asyncpg.Pool, metrics: Metrics, clock: Clock) -> None:
    pending, oldest_due = await deliveries.queue_depth(db)
    metrics.snapshot.pending = pending
    now = clock()
    metrics.snapshot.oldest_due_age = (
        max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0
    )
    metrics.snapshot.connectors = await connectors.count_by_status(db)


async def sweep(db: asyncpg.Pool, settings: Settings, metrics: Metrics, clock: Clock) -> None:
    """Drop deliveries past their age, then old events, statistics and delivery log entries, in
    bounded batches."""
    now = clock()
    while (expired := await deliveries.expire(db, now, BATCH)) > 0:
        metrics.deliveries_expired.inc(expired)
        metrics.count_dropped(EXPIRED, expired)
        log.info("deliveries_expired", count=expired)
    before = now - timedelta(seconds=settings.retention)
    while await stats.delete_old(db, before, BATCH) > 0:
        await asyncio.sleep(0)
    attempts_before = now - timedelta(seconds=settings.attempt_retention)
    while await attempts.delete_old(db, attempts_before, BATCH) > 0:
        await asyncio.sleep(0)
    await accounts.delete_expired_access_tokens(db, now)


async def run(db: asyncpg.Pool, settings: Settings, metrics: Metrics, clock: Clock) -> None:
    """Refresh the gauges every few seconds and sweep every minute (or, for a shorter delivery
    age, that often: a probing connector leaves its expired deliveries to the sweep), until
    cancelled."""
    sweep_every = min(SWEEP_EVERY, settings.delivery_max_age)
    since_sweep = sweep_every
    while True:
        try:
            await refresh_snapshot(db, metrics, clock)
            if since_sweep >= sweep_every:
                await sweep(db, settings, metrics, clock)
                since_sweep = 0.0
        except DATABASE_UNAVAILABLE as error:
            log.warning("maintenance_failed", error=type(error).__name__)
        await asyncio.sleep(SNAPSHOT_EVERY)
        since_sweep += SNAPSHOT_EVERY
