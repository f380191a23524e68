"""Event stream latency: publish→stream p99 at a steady rate with several open streams.

    .venv/bin/python bench/stream.py [--rate 1000] [--streams 10] [--seconds 10] [--replicas 2]

Starts `--replicas` gateway processes on one fresh database; opens `--streams` event streams
spread over the replicas and publishes `--rate` events/s (batches of 10) to the first replica
only, so most streams are fed across replicas by LISTEN/NOTIFY. Latency of an event = when its
line arrived on a stream − when its publish was acknowledged (the event is committed then; a
line may even arrive first, a negative latency). Also shown: from the request's sending, which
includes the publish itself. The baseline, measured in the same run, is the publish round trip
(request sent → acknowledged).
Prints the figures and the ratio; exit status 1 if an event is missing from a stream.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procs import (  # noqa: E402
    ROOT,
    Processes,
    admin,
    create_database,
    drop_database,
    postgres_server,
    start_gateway,
)
from bench.receiver import quantiles  # noqa: E402

BATCH = 10


class Streams:
    """Open streams, and when each event's line arrived on each of them."""

    def __init__(self, count: int) -> None:
        self.arrivals: list[dict[str, float]] = [{} for _ in range(count)]
        self.connected = 0

    async def read(self, index: int, session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url, params={"ping_interval": "1s"}) as response:
            assert response.status == 200, await response.text()
            self.connected += 1
            arrivals = self.arrivals[index]
            async for line in response.content:
                event = orjson.loads(line)["result"]["event"]
                if event["eventType"] != "ping":
                    arrivals[event["eventId"]] = time.perf_counter()


async def publish(
    session: aiohttp.ClientSession, url: str, device: str, rate: float, seconds: float
) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """(send and acknowledgement time of every event id, round trip of every publish), at
    `rate` events/s."""
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    round_trips: list[float] = []
    interval = BATCH / rate
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def send(index: int) -> None:
        ids = [f"b{index}e{i}" for i in range(BATCH)]
        body = {"events": [{"device": device, "eventId": event_id,
                            "data": {"temperature": {"value": 20.0}}} for event_id in ids]}
        moment = time.perf_counter()
        for event_id in ids:
            sent[event_id] = moment
        async with session.post(url, json=body) as answer:
            assert answer.status == 200, await answer.text()
        done = time.perf_counter()
        round_trips.append(done - moment)
        for event_id in ids:
            acked[event_id] = done

    tasks = []
    for index in range(int(seconds * rate / BATCH)):
        await asyncio.sleep(max(0.0, started + index * interval - loop.time()))
        tasks.append(asyncio.create_task(send(index)))
    await asyncio.gather(*tasks)
    return sent, acked, round_trips


async def measure(urls: list[str], project: str, headers: dict[str, str], args: argparse.Namespace
                  ) -> int:
    async with aiohttp.ClientSession(headers=headers) as session:
        devices = f"{urls[0]}/v2/projects/{project}/devices"
        async with session.post(devices, json={"type": "temperature"}) as answer:
            device = (await answer.json())["name"].rsplit("/", 1)[-1]
        streams = Streams(args.streams)
        readers = [asyncio.create_task(streams.read(
            i, session, f"{urls[i % len(urls)]}/v2/projects/{project}/devices:stream"
        )) for i in range(args.streams)]
        while streams.connected < args.streams:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the last subscriptions are registered before their headers
        sent, acked, round_trips = await publish(
            session, f"{devices}:publishBatch", device, args.rate, args.seconds
        )
        await asyncio.sleep(1.0)  # the last lines in flight
        for reader in readers:
            reader.cancel()
    pairs = [(arrived[event_id], event_id)
             for arrived in streams.arrivals for event_id in arrived if event_id in sent]
    latencies = [moment - acked[event_id] for moment, event_id in pairs]
    from_send = [moment - sent[event_id] for moment, event_id in pairs]
    missing = sum(len(set(sent) - set(arrived)) for arrived in streams.arrivals)
    stream_q, publish_q = quantiles(latencies), quantiles(round_trips)
    print(f"events published: {len(sent)} at {args.rate:.0f}/s over {args.seconds:.0f} s, "
          f"{args.streams} streams on {len(urls)} replicas")
    print(f"lines received:   {len(latencies)} (missing {missing})")
    rows = (("publish→stream (from the ack)", stream_q),
            ("request sent→stream", quantiles(from_send)),
            ("publish round trip (baseline)", publish_q))
    for name, q in rows:
        print(f"{name:30} p50 {q['p50'] * 1000:7.1f} ms  p99 {q['p99'] * 1000:7.1f} ms  "
              f"max {q['max'] * 1000:7.1f} ms")
    print(f"ratio stream p99 / publish p99: {stream_q['p99'] / publish_q['p99']:.2f}")
    print(f"target p99 < 100 ms: {'met' if stream_q['p99'] < 0.1 else 'NOT met'}")
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    name = f"bench_stream_{int(time.time())}"
    with postgres_server() as server, tempfile.TemporaryDirectory() as logs:
        url = asyncio.run(create_database(server, name))
        processes = Processes(Path(logs))
        try:
            project = admin(url, ROOT, "create-project", "--name", "stream")["projectId"]
            account = admin(url, ROOT, "create-service-account", "--project", project)
            token = base64.b64encode(f"{account['keyId']}:{account['secret']}".encode())
            gateways = [start_gateway(processes, f"gateway{i}", url, ROOT, dispatcher="false")
                        for i in range(args.replicas)]
            headers = {"Authorization": "Basic " + token.decode()}
            return asyncio.run(measure([g.url for g in gateways], project, headers, args))
        finally:
            processes.stop_all()
            asyncio.run(drop_database(server, name))


if __name__ == "__main__":
    sys.exit(main())
