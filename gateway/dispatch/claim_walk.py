"""The claims' walk over the connectors with deliveries: each claim goes on after the connector
the previous one ended at, so a long queue never starves a quiet one (the statement is
`claim_deliveries` in gateway/store/queries.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gateway.store import deliveries
from gateway.store.deliveries import ConnectorKey, DeliveryRow

START: ConnectorKey = ("", "")  # the walk before the first connector


class ClaimWalk:
    """Where the next claim starts, and whether the last one visited every connector."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db
        self._after = START  # the connector the last claim ended at
        # The last claim visited every connector and took less than it could: nothing more is
        # due until a NOTIFY, a retry time, or room in a lane.
        self.walked_all = False

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease_until: datetime,
        closed: Sequence[str],
        per_connector: int,
    ) -> Sequence[DeliveryRow]:
        """Up to `limit` due deliveries, leased until `lease_until`, none of `closed`."""
        walk_from = self._after
        rows = await deliveries.claim(
            self._db, now, limit, lease_until, closed, per_connector, walk_from
        )
        if not rows and walk_from != START:
            # The walk reached the end: the beginning may have due work.
            walk_from = START
            rows = await deliveries.claim(
                self._db, now, limit, lease_until, closed, per_connector, START
            )
        self.walked_all = walk_from == START and len(rows) < limit
        # The next claim goes on after the last connector served; a short claim means the walk
        # reached the end, so the next one starts from the beginning again.
        if len(rows) < limit:
            self._after = START
        else:
            self._after = max((row["project_id"], row["connector_id"]) for row in rows)
        return rows
