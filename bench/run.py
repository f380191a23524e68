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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the gateway, when not installed

import asyncpg
import attempt_log
import procs
import report
import sampling
import scenarios
from rig import SECRET, Rig, open_rig

attempt_log.register()
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
TEMPLATE = "# Benchmarks\n\nRun `python bench/run.py` (see bench/README.md).\n"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Outcome:
    """Every run's figures, what failed, and the optional profile."""

    runs: list[dict[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str | None = None


@dataclass(frozen=True)
class Plan:
    mode: str
    sizes: scenarios.Sizes
    steps: list[str]
    source: Path
    settings: dict[str, str]
    out: Path
    profile: bool


async def postgres_version(server_url: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def profiled_run(rig: Rig, sizes: scenarios.Sizes, out: Path) -> str:
    """One more 1-process throughput run, under py-spy; its figures are not reported."""
    state = scenarios.State(await rig.project("profiled", 1, group="t"))
    raw = out / "profile-throughput.txt"
    await sampling.record(rig.gateways[0].pid, raw, scenarios.throughput(rig, sizes, state))
    return sampling.summarise(raw)


async def one_run(
    server_url: str,
    processes: procs.Processes,
    plan: Plan,
    receiver_url: str,
    repetition: int,
    outcome: Outcome,
) -> None:
    name = f"bench_{os.getpid()}_{repetition}"
    rig = await open_rig(processes, server_url, name, receiver_url, plan.source, plan.settings)
    try:
        state = await scenarios.run_all(rig, plan.sizes, plan.steps, log)
        outcome.runs.append(state.figures)
        outcome.failures += [f"run {repetition + 1}: {failure}" for failure in state.failures]
        outcome.notes += [f"run {repetition + 1}: {note}" for note in state.notes]
        if plan.profile and repetition == plan.sizes.repetitions - 1:
            log("  profiling the gateway during one more throughput run")
            outcome.profile = await asyncio.wait_for(profiled_run(rig, plan.sizes, plan.out), 240)
    finally:
        await rig.close()


async def measure(server_url: str, processes: procs.Processes, plan: Plan) -> Outcome:
    _, receiver_url = await asyncio.to_thread(procs.start_receiver, processes, SECRET)
    outcome = Outcome()
    for repetition in range(plan.sizes.repetitions):
        log(f"run {repetition + 1} of {plan.sizes.repetitions}")
        await one_run(server_url, processes, plan, receiver_url, repetition, outcome)
    return outcome


@contextlib.contextmanager
def snapshot(source: Path) -> Iterator[Path]:
    """A copy of the checkout's gateway/ (migrations included), so that every process of the
    benchmark runs the same code even while the checkout is being edited."""
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as directory:
        copy = Path(directory)
        for part in ("gateway",):
            shutil.copytree(
                source / part, copy / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        yield copy


def source_state(source: Path) -> str:
    """The gateway code measured: its commit, and whether it had local changes."""

    def git(*arguments: str) -> str:
        done = subprocess.run(
            ["git", *arguments], cwd=source, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "gateway")
    return f"commit {commit}" + (" with local changes to gateway/" if changed else "")


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)  # the same orderly stop as Ctrl-C


def use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise SystemExit(f"--setting wants NAME=VALUE, got {pair!r}")
        settings[key.lower().removeprefix("gateway_")] = value
    return settings


def parse_plan() -> tuple[Plan, bool]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 run of smaller loads (~3 min)")
    parser.add_argument(
        "--profile", action="store_true", help="add a py-spy profile of the gateway to the report"
    )
    parser.add_argument(
        "--only",
        default=",".join(scenarios.STEPS),
        help=f"comma-separated steps among {', '.join(scenarios.STEPS)}",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a GATEWAY_* setting for every gateway process (repeatable)",
    )
    parser.add_argument(
        "--gateway-source",
        type=Path,
        default=ROOT,
        help="checkout whose gateway/ is measured (default: this one)",
    )
    parser.add_argument("--runs", type=int, help="repetitions (default: 3, quick: 1)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="logs, raw figures and profiles (default bench/results)",
    )
    options = parser.parse_args()
    steps = [step for step in options.only.split(",") if step]
    unknown = set(steps) - set(scenarios.STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    options.out.mkdir(parents=True, exist_ok=True)
    sizes = scenarios.QUICK if options.quick else scenarios.FULL
    if options.runs:
        sizes = replace(sizes, repetitions=max(1, min(options.runs, 9)))
    return Plan(
        mode="quick" if options.quick else "full",
        sizes=sizes,
        steps=steps,
        source=options.gateway_source.resolve(),
        settings=parse_settings(options.setting),
        out=options.out,
        profile=options.profile,
    ), options.no_docs


def main() -> int:
    plan, no_docs = parse_plan()
    # Also when started in the background, where SIGINT may arrive ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    use_uvloop()
    processes = procs.Processes(plan.out)
    started = time.perf_counter()
    state = source_state(plan.source)
    try:
        with procs.postgres_server() as server_url, snapshot(plan.source) as code:
            postgres = asyncio.run(postgres_version(server_url))
            outcome = asyncio.run(measure(server_url, processes, replace(plan, source=code)))
    finally:
        processes.stop_all()
    values = report.medians(outcome.runs)
    (plan.out / "figures.json").write_text(repr(outcome.runs))
    print(report.console_table(values))
    for note in outcome.notes:
        print(f"NOTE {note}")
    for failure in outcome.failures:
        print(f"FAILED {failure}")
    if not no_docs:
        context = report.Context(plan.mode, plan.sizes.repetitions, postgres, state, plan.settings)
        block = report.generated_block(
            values, context, outcome.failures, outcome.notes, outcome.profile
        )
        report.write_docs(DOCS, block, TEMPLATE)
        log(f"wrote {DOCS.relative_to(ROOT)}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
