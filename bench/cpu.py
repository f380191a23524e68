"""Where the machine's CPU went during a measurement, from /proc (Linux only)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of one process; 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process (the server and its backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / TICKS


PidSource = Callable[[], list[int]]


@dataclass
class CpuMeter:
    """Per-role CPU use between `start()` and `stop()`, in % of one core."""

    roles: dict[str, PidSource]
    _before: dict[str, dict[int, float]] = field(default_factory=dict)
    _machine: float = 0.0
    _started: float = 0.0

    def start(self) -> CpuMeter:
        self._before = {
            role: {pid: process_seconds(pid) for pid in pids()} for role, pids in self.roles.items()
        }
        self._machine = machine_busy_seconds()
        self._started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._started, 1e-9)
        shares = {}
        for role, pids in self.roles.items():
            before = self._before.get(role, {})
            used = sum(process_seconds(pid) - before.get(pid, 0.0) for pid in pids())
            shares[role] = 100 * used / wall
        machine = 100 * (machine_busy_seconds() - self._machine) / wall
        shares["other"] = max(0.0, machine - sum(shares.values()))
        shares["machine"] = machine
        return shares


async def quiet_machine(limit: float, window: float, max_wait: float) -> float:
    """Wait until the whole machine was busy less than `limit` % (of one core) over `window`
    seconds, at most `max_wait` seconds; returns the last share measured."""
    import asyncio

    deadline = time.monotonic() + max_wait
    while True:
        before, started = machine_busy_seconds(), time.monotonic()
        await asyncio.sleep(window)
        share = 100 * (machine_busy_seconds() - before) / (time.monotonic() - started)
        if share < limit or time.monotonic() > deadline:
            return share
