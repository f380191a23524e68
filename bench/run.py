"""Benchmark the gateway end to end on loopback: `python bench/run.py [--quick] [--profile]`.

Starts a receiver, a fresh PostgreSQL database and `python -m gateway serve` for each run,
measures (see bench/README.md), prints a table of medians and writes them with the machine's
description into docs/benchmarks.md. Every child process is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the gateway, when not installed

import asyncpg
import procs
import report
import sampling
import scenarios
from rig import SECRET, Rig, open_rig

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
RUN_DEADLINE = {"quick": 300.0, "full": 480.0}  # seconds per repetition
TEMPLATE = "# Benchmarks\n\nRun `python bench/run.py` (see bench/README.md).\n"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def postgres_version(server_url: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def profiled_run(rig: Rig, sizes: scenarios.Sizes, out: Path) -> str:
    """One more 1-process throughput run, under py-spy; its figures are not reported."""
    t = await rig.project("profiled", 1, group="t")
    raw = out / "profile-throughput.txt"
    await sampling.record(rig.gateways[0].pid, raw, scenarios.throughput(rig, sizes, t))
    return sampling.summarise(raw)


async def measure(server_url: str, processes: procs.Processes, sizes: scenarios.Sizes,
                  mode: str, out: Path, profile: bool) -> tuple[list[dict[str, float]], str | None]:
    _, receiver_url = await asyncio.to_thread(procs.start_receiver, processes, SECRET)
    runs: list[dict[str, float]] = []
    summary = None
    for repetition in range(sizes.repetitions):
        log(f"run {repetition + 1} of {sizes.repetitions}")
        name = f"bench_{os.getpid()}_{repetition}"
        rig = await open_rig(processes, server_url, name, receiver_url)
        try:
            figures = await asyncio.wait_for(
                scenarios.run_all(rig, sizes, log), RUN_DEADLINE[mode]
            )
            runs.append(figures)
            if profile and repetition == sizes.repetitions - 1:
                log("  profiling the gateway during one more throughput run")
                summary = await asyncio.wait_for(profiled_run(rig, sizes, out), 180)
        finally:
            await rig.close()
    return runs, summary


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def event_loop_runner() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 run of smaller loads (~3 min)")
    parser.add_argument("--profile", action="store_true",
                        help="add a py-spy profile of the gateway to the report")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="logs, raw figures and profiles (default bench/results)")
    options = parser.parse_args()
    mode = "quick" if options.quick else "full"
    sizes = scenarios.QUICK if options.quick else scenarios.FULL
    options.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)
    event_loop_runner()
    processes = procs.Processes(options.out)
    started = time.perf_counter()
    try:
        with procs.postgres_server() as server_url:
            postgres = asyncio.run(postgres_version(server_url))
            runs, profile = asyncio.run(
                measure(server_url, processes, sizes, mode, options.out, options.profile)
            )
    finally:
        processes.stop_all()
    values = report.medians(runs)
    (options.out / "figures.json").write_text(repr(runs))
    print(report.console_table(values))
    if not options.no_docs:
        block = report.generated_block(values, mode, sizes.repetitions, postgres, profile)
        report.write_docs(DOCS, block, TEMPLATE)
        log(f"wrote {DOCS.relative_to(ROOT)}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
