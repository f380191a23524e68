"""Sampling the gateway with py-spy while a measurement runs, and summarising the samples."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
MAX_SECONDS = 300  # py-spy stops by itself after this, whatever happens to us
TOP = 18


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record(pid: int, output: Path, measurement: Awaitable[T]) -> T:
    """Run `measurement` while py-spy samples process `pid` into `output` (raw stacks)."""
    import asyncio

    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    spy = subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--function",
            "--rate",
            "200",
            "--duration",
            str(MAX_SECONDS),
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(1.0)  # let it attach
        return await measurement
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)


def _short(frame: str) -> str:
    """`function (path:line)` with the path cut to the package."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/main/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where.rsplit(':', 1)[0]})"


def summarise(raw: Path) -> str:
    """Markdown: the functions with the most samples, inclusive and exclusive."""
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        exclusive[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(no samples)"
    # Frames in (nearly) every sample are the event loop's scaffolding: not worth a row.
    inner = [(f, n) for f, n in inclusive.most_common() if n < 0.97 * total][:TOP]
    lines = [f"{total} samples.", "", "| inclusive | function |", "|---:|---|"]
    lines += [f"| {100 * n / total:.1f} % | `{f}` |" for f, n in inner]
    lines += ["", "| exclusive | function |", "|---:|---|"]
    lines += [f"| {100 * n / total:.1f} % | `{f}` |" for f, n in exclusive.most_common(TOP)]
    return "\n".join(lines)
