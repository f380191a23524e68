"""The measurements. Each returns named figures; `run_all` runs them in order on one rig."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import client
import orjson
import rig as rigs
from client import Api
from cpu import CpuMeter, postgres_pids, quiet_machine
from rig import SECRET, Project, Rig

from gateway.ingest.publish import new_event
from gateway.model import Connector
from gateway.push import body as push
from gateway.push.asymmetric import AsymmetricSigner, SigningKey, new_private_key
from gateway.push.signing import sign_body

Figures = dict[str, float]
CONCURRENCY = 64  # the gateway's default GATEWAY_PUSH_CONCURRENCY
QUIET_LIMIT = 30.0  # % of one core used by anything at all before a step starts
STEP_DEADLINE = 300.0  # seconds
LATENCY_RATE = 1000.0  # events/s
LATENCY_BATCH = 10  # events per publish request at that rate
SYNC_DATA: dict[str, dict[str, Any]] = {
    "temperature": {"value": 21.5},
    "touch": {},
    "humidity": {"temperature": 21.5, "relativeHumidity": 40},
    "objectPresent": {"state": "PRESENT"},
    "batteryStatus": {"percentage": 90},
}


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    repetitions: int
    baseline_posts: int
    throughput_events: int
    latency_seconds: float
    fanout_deliveries: int
    tenants: int = 1000
    tenant_connectors: int = 10
    sync_devices: int = 10_000
    quiet_wait: float = 30.0  # seconds a step waits at most for the machine to be quiet


QUICK = Sizes(
    quiet_wait=15.0,
    repetitions=1,
    baseline_posts=20_000,
    throughput_events=20_000,
    latency_seconds=8,
    fanout_deliveries=20_000,
)
FULL = Sizes(
    repetitions=3,
    baseline_posts=50_000,
    throughput_events=50_000,
    latency_seconds=20,
    fanout_deliveries=50_000,
)


@dataclass(frozen=True)
class Delivery:
    """One burst of events pushed to every connector of a project."""

    rate: float  # deliveries/s from the first publish to the last push received
    ingest: float  # events/s acknowledged by the API
    drain: float  # deliveries/s after the last publish was acknowledged (nan if none was left)
    duplicates: int
    verified: int
    bad_signatures: int
    cpu: dict[str, float]


def meter(rig: Rig) -> CpuMeter:
    receiver = rig.processes.pid_of("receiver")
    return CpuMeter(
        {
            "gateway": lambda: [gateway.pid for gateway in rig.gateways],
            "postgres": postgres_pids,
            "receiver": lambda: [receiver],
            "load": lambda: [os.getpid()],
        }
    )


async def deliver(
    rig: Rig, apis: list[Api], project: Project, group: str, events: int, connectors: int
) -> Delivery:
    """Publish `events` in batches as fast as acknowledged, while the gateway pushes them; wait
    until the receiver has every (connector, event) pair."""
    await rig.receiver.reset()
    cpu = meter(rig).start()
    started = time.time()
    publish_seconds = await client.publish_burst(apis, project.id, project.devices, events)
    published = time.time()
    left = events * connectors - (await rig.receiver.group(group))["distinct"]
    expected = events * connectors
    tally = await rig.receiver.wait_for(group, expected, timeout=max(120.0, expected / 400))
    shares = cpu.stop()
    drain = left / (tally["last"] - published) if left > 0.05 * expected else math.nan
    return Delivery(
        rate=expected / (tally["last"] - started),
        ingest=events / publish_seconds,
        drain=drain,
        duplicates=tally["duplicates"],
        verified=tally["verified"],
        bad_signatures=tally["badSignatures"],
        cpu=shares,
    )


def sample_push() -> tuple[bytes, dict[str, str]]:
    """A push body and headers as the gateway renders them for a temperature event."""
    now = datetime.now(UTC)
    data = {
        "temperature": {
            "value": 21.5,
            "updateTime": client.rfc3339(time.time()),
            "samples": [{"value": 21.5, "sampleTime": client.rfc3339(0)}],
            "isBackfilled": False,
        }
    }
    event = new_event("emu0000000000000000000", "temperature", data, now, None)
    metadata = {
        "deviceId": event.device_id,
        "projectId": "bench0000000000000000",
        "deviceType": "temperature",
        "productNumber": "",
    }
    body = push.render_body(orjson.dumps(event.to_json("bench0000000000000000")), {}, [], metadata)
    connector = Connector(project_id="p", id="c", signature_secret=SECRET)
    return body, push.request_headers(connector, body, time.time())


async def baseline(rig: Rig, sizes: Sizes) -> Figures:
    """Raw aiohttp client: the same body to the same receiver, 64 in flight, no gateway."""
    await rig.receiver.reset()
    body, headers = sample_push()
    seconds = await client.post_raw(
        rig.receiver.url("baseline"), body, headers, sizes.baseline_posts, CONCURRENCY
    )
    received = (await rig.receiver.group("baseline"))["received"]
    if received != sizes.baseline_posts:
        raise RuntimeError(f"baseline: receiver counted {received} of {sizes.baseline_posts}")
    return {"baseline_s": sizes.baseline_posts / seconds}


def delivery_figures(prefix: str, run: Delivery) -> Figures:
    figures = {
        f"{prefix}_s": run.rate,
        f"{prefix}_ingest_s": run.ingest,
        f"{prefix}_drain_s": run.drain,
        "duplicates": run.duplicates,
        "verified": run.verified,
        "bad_signatures": run.bad_signatures,
    }
    figures.update({f"{prefix}_cpu_{role}": share for role, share in run.cpu.items()})
    return figures


def merge(total: Figures, more: Figures) -> None:
    """Add `more` into `total`; the sanity counters add up, everything else is set."""
    for key, value in more.items():
        if key in ("duplicates", "verified", "bad_signatures"):
            total[key] = total.get(key, 0) + value
        else:
            total[key] = value


async def throughput(rig: Rig, sizes: Sizes, state: State) -> Figures:
    run = await deliver(rig, rig.apis(), state.t, "t", sizes.throughput_events, 1)
    figures = delivery_figures("throughput", run)
    figures["fanout1_s"] = run.rate
    if "baseline_s" in state.figures:
        figures["throughput_ratio"] = run.rate / state.figures["baseline_s"]
    return figures


async def latency(rig: Rig, sizes: Sizes, state: State) -> Figures:
    """Publish → receiver at a fixed rate; the event's timestamp is its publish time."""
    await rig.receiver.reset()
    sent = await client.publish_paced(
        rig.api(), state.t.id, state.t.devices, LATENCY_RATE, sizes.latency_seconds, LATENCY_BATCH
    )
    await rig.receiver.wait_for("t", sent, timeout=120)
    quantiles = await rig.receiver.latency("t")
    return {
        "latency_p50_ms": quantiles["p50"] * 1000,
        "latency_p99_ms": quantiles["p99"] * 1000,
        "latency_max_ms": quantiles["max"] * 1000,
    }


async def flaky(rig: Rig, sizes: Sizes, _state: State) -> Figures:
    """The latency load to one connector whose receiver answers 500 to 1 push in 200: the
    latency of the pushes that succeed first time, and every event delivered in the end."""
    project = await rig.project("flaky", 1)
    await rig.receiver.reset()
    sent = await client.publish_paced(
        rig.api(), project.id, project.devices, LATENCY_RATE, sizes.latency_seconds, LATENCY_BATCH
    )
    started = time.perf_counter()
    tally = await rig.receiver.wait_for("flaky", sent, timeout=120)
    quantiles = await rig.receiver.latency("flaky")
    return {
        "flaky_p50_ms": quantiles["p50"] * 1000,
        "flaky_p99_ms": quantiles["p99"] * 1000,
        "flaky_failed_pushes": tally["failed"],
        "flaky_delivered": tally["distinct"],
        "flaky_sent": sent,
        "flaky_settle_seconds": time.perf_counter() - started,
        "duplicates": tally["duplicates"],
    }


async def fanout(rig: Rig, sizes: Sizes, connectors: int) -> tuple[Figures, Project]:
    project = await rig.project(f"f{connectors}", connectors)
    events = sizes.fanout_deliveries // connectors
    run = await deliver(rig, rig.apis(), project, f"f{connectors}", events, connectors)
    return delivery_figures(f"fanout{connectors}", run), project


async def isolation(rig: Rig, sizes: Sizes, state: State) -> Figures:
    """The 100-connector fan-out load again with a hanging and a failing endpoint added to the
    project; only the healthy connectors' pushes are waited for. The ratio is to the fan-out
    run of this same run (measured here first when that step was left out)."""
    figures: Figures = {}
    if state.f100 is None:
        figures, state.f100 = await fanout(rig, sizes, 100)
    healthy = state.f100
    reference = figures.get("fanout100_s") or state.figures["fanout100_s"]
    api = rig.api()
    bad = [
        await api.create_connector(healthy.id, rig.receiver.url("hang"), SECRET),
        await api.create_connector(healthy.id, rig.receiver.url("fail"), SECRET),
    ]
    try:
        connectors = len(healthy.connectors)
        events = sizes.fanout_deliveries // connectors
        run = await deliver(rig, rig.apis(), healthy, f"f{connectors}", events, connectors)
        groups = await rig.receiver.groups()
    finally:
        for connector in bad:
            await api.delete_connector(healthy.id, connector)
    merge(figures, delivery_figures("isolation", run))
    figures["isolation_ratio"] = run.rate / reference
    figures["isolation_hang_pushes"] = groups.get("hang", {}).get("received", 0)
    figures["isolation_fail_pushes"] = groups.get("fail", {}).get("received", 0)
    return figures


async def _bounded(calls: Iterable[Awaitable[None]], concurrency: int) -> None:
    """Await `calls` (created lazily, as they are taken), `concurrency` at a time."""
    pending = iter(calls)

    async def worker() -> None:
        for call in pending:
            await call

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def scale(rig: Rig, sizes: Sizes, state: State) -> Figures:
    """Single-connector load before and after 10,000 connectors in 1,000 other projects exist
    (made by SQL), and the gateway's memory once a push has gone to every one of them."""
    t = state.t
    before = await deliver(rig, rig.apis(), t, "t", sizes.throughput_events, 1)
    apis, projects = await rigs.insert_tenants(rig, sizes.tenants, sizes.tenant_connectors)
    await rig.receiver.reset()
    started = time.perf_counter()
    calls = (
        api.publish(project, [{"device": f"dev{project}", "data": {"temperature": {"value": 1.0}}}])
        for api, project in zip(apis, projects, strict=True)
    )
    await _bounded(calls, 4)  # as many as the gateway admits at once (its ingest bound)
    await rig.receiver.wait_for("scale", sizes.tenants * sizes.tenant_connectors, timeout=300)
    touched = time.perf_counter() - started
    rss = rig.gateways[0].rss_mb()
    after = await deliver(rig, rig.apis(), t, "t", sizes.throughput_events, 1)
    figures = delivery_figures("scale_before", before)
    merge(figures, delivery_figures("scale_after", after))
    figures.update(
        {
            "scale_ratio": after.rate / before.rate,
            "scale_touch_seconds": touched,
            "rss_mb": rss,
        }
    )
    return figures


async def sync(rig: Rig, sizes: Sizes, _state: State) -> Figures:
    """`:sync` of a connector in a project of 10,000 devices with 5 event types each."""
    project = Project(await rig.sql_project("sync"))
    devices = await rigs.insert_devices(rig, project.id, sizes.sync_devices)
    api = rig.api()
    batches = [
        [{"device": device, "data": {kind: data}} for device in devices[i : i + client.BATCH]]
        for kind, data in SYNC_DATA.items()
        for i in range(0, len(devices), client.BATCH)
    ]
    await _bounded((api.publish(project.id, batch) for batch in batches), 2)
    connector = await api.create_connector(project.id, rig.receiver.url("sync"), SECRET)
    await rig.receiver.reset()
    started_wall, started = time.time(), time.perf_counter()
    await api.sync(project.id, connector)
    enqueued = time.perf_counter() - started
    expected = sizes.sync_devices * len(SYNC_DATA)
    tally = await rig.receiver.wait_for("sync", expected, timeout=600)
    delivered = tally["last"] - started_wall
    return {
        "sync_enqueue_seconds": enqueued,
        "sync_deliver_seconds": delivered,
        "sync_s": expected / delivered,
        "duplicates": tally["duplicates"],
        "verified": tally["verified"],
        "bad_signatures": tally["badSignatures"],
    }


async def two_processes(rig: Rig, sizes: Sizes, state: State) -> Figures:
    """A second gateway process on the same database; publishes alternate between them."""
    second = await rig.add_gateway()
    try:
        run = await deliver(rig, rig.apis(), state.t, "t", sizes.throughput_events, 1)
    finally:
        rig.stop_gateway(second)
    figures = delivery_figures("throughput2", run)
    if "baseline_s" in state.figures:
        figures["throughput2_ratio"] = run.rate / state.figures["baseline_s"]
    if "throughput_s" in state.figures:
        figures["throughput2_gain"] = run.rate / state.figures["throughput_s"]
    return figures


async def asymmetric_cost(rig: Rig, sizes: Sizes, state: State) -> Figures:
    """The throughput burst through a fresh gateway without DT-Asymmetric-Signature, then
    through a fresh one with it (the default): the ratio is the cost of the ES256 signature.

    On a shared machine the rates swing with other load, so the gateway's CPU time per delivery
    (publishing included) is reported too: its ratio off/on is what the throughput ratio of a
    CPU-bound gateway is on a quiet machine."""
    figures: Figures = {}
    default = dict(rig.settings)
    for name, setting in (("off", "false"), ("on", "true")):
        rig.settings = {**default, "asymmetric_signature": setting}
        previous = rig.gateways[0]
        await rig.add_gateway()
        rig.stop_gateway(previous)  # one process pushes, signing as `setting` says
        run = await deliver(rig, rig.apis(), state.t, "t", sizes.throughput_events, 1)
        figures[f"asymmetric_{name}_s"] = run.rate
        figures[f"asymmetric_{name}_cpu_us"] = run.cpu["gateway"] / 100 / run.rate * 1e6
    rig.settings = default
    figures["asymmetric_ratio"] = figures["asymmetric_on_s"] / figures["asymmetric_off_s"]
    figures["asymmetric_cpu_ratio"] = (
        figures["asymmetric_off_cpu_us"] / figures["asymmetric_on_cpu_us"]
    )
    return {**figures, **signing_costs()}


def signing_costs(count: int = 5_000) -> Figures:
    """µs per token of each signature, signed here, in this process, over one push body."""
    body, _ = sample_push()
    signer = AsymmetricSigner(SigningKey.from_der("bench", new_private_key()), "https://b/dc")
    costs = {
        "es256_sign_us": lambda: signer.sign(body, "p", time.time()),
        "hs256_sign_us": lambda: sign_body(body, SECRET),
    }
    figures: Figures = {}
    for name, sign in costs.items():
        started = time.perf_counter()
        for _ in range(count):
            sign()
        figures[name] = (time.perf_counter() - started) / count * 1e6
    return figures


async def warm_up(rig: Rig, t: Project) -> None:
    """A small burst first, so that connections and caches are not part of any figure."""
    await deliver(rig, rig.apis(), t, "t", 2_000, 1)


async def fanouts(rig: Rig, sizes: Sizes, state: State) -> Figures:
    figures: Figures = {}
    for connectors in (10, 100):
        more, project = await fanout(rig, sizes, connectors)
        merge(figures, more)
    state.f100 = project
    return figures


async def baseline_step(rig: Rig, sizes: Sizes, _state: State) -> Figures:
    return await baseline(rig, sizes)


Step = Callable[[Rig, Sizes, "State"], Awaitable[Figures]]
STEPS: dict[str, Step] = {
    "baseline": baseline_step,
    "throughput": throughput,
    "latency": latency,
    "flaky": flaky,
    "fanout": fanouts,
    "isolation": isolation,
    "scale": scale,
    "sync": sync,
    "processes": two_processes,
    "asymmetric": asymmetric_cost,
}


@dataclass
class State:
    """What later steps of one run use from earlier ones."""

    t: Project
    figures: Figures = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    f100: Project | None = None


def contention(step: str, figures: Figures) -> list[str]:
    """Notes on measurements during which other processes took a noticeable share of CPU."""
    return [
        f"{step}: other processes used {value:.0f} % of a core during "
        f"{key.removesuffix('_cpu_other')}"
        for key, value in figures.items()
        if key.endswith("_cpu_other") and value >= QUIET_LIMIT
    ]


async def _recover(rig: Rig) -> None:
    """After a failed step: drop what is still queued, so that the next step starts clean."""
    await rig.db.execute("DELETE FROM deliveries")
    await asyncio.sleep(2)


async def run_all(rig: Rig, sizes: Sizes, steps: list[str], log: Callable[[str], None]) -> State:
    """Run `steps` in order; a step that fails is recorded and the next one runs."""
    t = await rig.project("t", 1)
    state = State(t, {"rss_start_mb": rig.gateways[0].rss_mb()})
    await warm_up(rig, t)
    for name in steps:
        busy = await quiet_machine(QUIET_LIMIT, 2.0, sizes.quiet_wait)
        if busy >= QUIET_LIMIT:
            state.notes.append(f"{name} started while the machine was {busy:.0f} % busy")
            log(f"  {name}: the machine stays busy ({busy:.0f} % of a core); measuring anyway")
        started = time.perf_counter()
        try:
            step = STEPS[name](rig, sizes, state)
            figures = await asyncio.wait_for(step, STEP_DEADLINE)
            merge(state.figures, figures)
            state.notes += contention(name, figures)
            log(f"  {name}: {time.perf_counter() - started:.1f} s")
        except TimeoutError:
            state.failures.append(f"{name}: not done after {STEP_DEADLINE:.0f} s")
            log(f"  {name}: FAILED, not done after {STEP_DEADLINE:.0f} s")
            await _recover(rig)
        except (client.Incomplete, client.ApiError) as error:
            state.failures.append(f"{name}: {error}")
            log(f"  {name}: FAILED after {time.perf_counter() - started:.1f} s: {error}")
            await _recover(rig)
    return state
