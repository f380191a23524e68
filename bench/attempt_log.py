"""What the delivery log costs: one-connector throughput with the attempt log on and off
(`GATEWAY_ATTEMPT_LOG=false`), alternating within one run, and how much the log's tables grow
per million deliveries.

`register()` adds the `attempt_log` step and its report section; bench/run.py calls it once.
"""

from __future__ import annotations

import asyncio
import statistics

import procs
import report
import scenarios
from rig import Rig

PAIRS = 2  # on/off pairs per run: alternating keeps drift of the machine out of the ratio
WARM_UP = 2_000  # events before each measured burst, after the gateway's restart
LOG_TABLES = ("attempts", "finished_deliveries")

SECTION = (
    "Delivery log (attempts and finished deliveries)",
    [
        report.Figure("attempt_log_on_s", "1 connector, attempt log on: deliveries/s", "/s"),
        report.Figure("attempt_log_off_s", "1 connector, attempt log off: deliveries/s", "/s"),
        report.Figure(
            "attempt_log_ratio", "  ratio on/off", "", "≥ 0.90", lambda v: v >= 0.9, 2
        ),
        report.Figure(
            "attempt_log_mb_per_million",
            "Growth of the log's tables per million deliveries (1 attempt each)",
            "MiB",
            "",
            None,
            0,
        ),
        report.Figure(
            "attempt_log_db_mb_per_million",
            "Growth of the whole database per million deliveries, log on",
            "MiB",
            "",
            None,
            0,
        ),
    ],
)


async def _restart_gateways(rig: Rig, **settings: str) -> None:
    """Replace every gateway process of the rig by one with `settings` on top of the run's."""
    for gateway in list(rig.gateways):
        rig.stop_gateway(gateway)
    gateway = await asyncio.to_thread(
        procs.start_gateway, rig.processes, "gateway-log", rig.database_url, rig.source,
        **{**rig.settings, **settings},
    )
    rig.gateways.append(gateway)


async def _sizes(rig: Rig) -> tuple[int, int]:
    """(bytes of the log's tables with their indexes, bytes of the whole database)."""
    tables = 0
    for table in LOG_TABLES:
        tables += await rig.db.fetchval(
            "SELECT coalesce(pg_total_relation_size(to_regclass($1)), 0)", table
        )
    return tables, await rig.db.fetchval("SELECT pg_database_size(current_database())")


def _events(sizes: scenarios.Sizes) -> int:
    """Events per burst: 2 x PAIRS bursts fit in the step's deadline of the other steps."""
    return sizes.throughput_events // PAIRS


async def _burst(rig: Rig, sizes: scenarios.Sizes, state: scenarios.State, log_on: bool) -> float:
    await _restart_gateways(rig, attempt_log="true" if log_on else "false")
    await scenarios.warm_up(rig, state.t)
    run = await scenarios.deliver(rig, rig.apis(), state.t, "t", _events(sizes), 1)
    return run.rate


async def attempt_log(
    rig: Rig, sizes: scenarios.Sizes, state: scenarios.State
) -> scenarios.Figures:
    """Alternate bursts with the log on and off; measure the tables' growth over the on bursts."""
    on, off = [], []
    grown_tables = grown_db = delivered = 0
    try:
        for _ in range(PAIRS):
            tables_before, db_before = await _sizes(rig)
            on.append(await _burst(rig, sizes, state, log_on=True))
            tables_after, db_after = await _sizes(rig)
            grown_tables += tables_after - tables_before
            grown_db += db_after - db_before
            delivered += _events(sizes) + WARM_UP
            off.append(await _burst(rig, sizes, state, log_on=False))
    finally:
        await _restart_gateways(rig)
    per_million = 1_000_000 / delivered / 2**20
    return {
        "attempt_log_on_s": statistics.mean(on),
        "attempt_log_off_s": statistics.mean(off),
        "attempt_log_ratio": statistics.mean(on) / statistics.mean(off),
        "attempt_log_mb_per_million": grown_tables * per_million,
        "attempt_log_db_mb_per_million": grown_db * per_million,
    }


def register() -> None:
    """Add the step (run after `throughput`) and its report section."""
    scenarios.STEPS["attempt_log"] = attempt_log
    report.SECTIONS.insert(1, SECTION)
