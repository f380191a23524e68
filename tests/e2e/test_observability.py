"""The dashboard and the alert rules against a real Prometheus scraping a real, busy gateway.

The gateway delivers a few hundred events to a healthy receiver and to one that answers 500, with
short retry, expiry and auto-disable periods so that every kind of outcome shows up. Prometheus
scrapes it every second; then every panel query must return data and every alert rule must parse.
"""

from __future__ import annotations

import asyncio
import base64
import math
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.e2e.processes import (
    GatewayProcess,
    admin,
    free_port,
    gateway_env,
    stop_process,
    wait_for,
)
from tests.ops import (
    ALERTS,
    alert_queries,
    dashboard_queries,
    load_dashboard,
    prometheus,
    promtool,
    substitute,
    variable_queries,
)
from tests.receiver import Answer, Receiver, running_receiver

pytestmark = pytest.mark.slow

EVENTS = 300
BATCH = 100


@contextmanager
def receiver_in_thread() -> Iterator[Receiver]:
    """A plain-HTTP receiver served by an event loop of its own, for a synchronous test."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    holder: list[Receiver] = []

    async def serve() -> None:
        async with running_receiver(None) as receiver:
            holder.append(receiver)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert started.wait(10), "the receiver did not start"
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@dataclass
class PrometheusProcess:
    """A real Prometheus server scraping one gateway every second."""

    directory: Path
    target: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusProcess:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {"job_name": "gateway", "static_configs": [{"targets": [self.target]}]}
            ],
        }
        config_file = self.directory / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        log_path = self.directory / "prometheus.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    prometheus(),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={self.directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.ready, 30, f"Prometheus on port {self.port} to be ready")
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.directory / "prometheus.log").read_text(errors="replace")
            raise AssertionError(f"prometheus exited with {self.process.returncode}: {log}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """An HTTP API call; errors (a query that does not parse) come back as their JSON body."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return orjson.loads(answer.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as error:
            return orjson.loads(error.read())  # type: ignore[no-any-return]

    def query(self, expr: str) -> dict[str, Any]:
        return self.api("query", query=expr)

    def value(self, expr: str) -> float:
        """The single value of a scalar-like query, NaN if it has none yet."""
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else math.nan

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@dataclass
class Client:
    """The gateway's REST API as one service account of one project sees it."""

    base_url: str
    project: str
    key_id: str
    secret: str
    device: str = ""

    def publish_one(self) -> None:
        self.call("POST", f"devices/{self.device}:publish", {"temperature": {"value": 22.0}})

    def call(self, method: str, path: str, body: Any) -> Any:
        token = base64.b64encode(f"{self.key_id}:{self.secret}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base_url}/v2/projects/{self.project}/{path}",
            data=orjson.dumps(body),
            method=method,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
            return orjson.loads(answer.read())


def publish_load(gateway: GatewayProcess, receiver: Receiver) -> Client:
    """A project with a healthy and a failing connector, and EVENTS events for both."""
    project = admin(gateway.env, "create-project", "--name", "observability")
    account = admin(
        gateway.env, "create-service-account",
        "--project", project["projectId"], "--role", "roles/project.developer",
    )
    client = Client(gateway.url, project["projectId"], account["keyId"], account["secret"])
    receiver.script("/fail", Answer(status=500))
    for path in ("/ok", "/fail"):
        client.call("POST", "dataconnectors", {"httpConfig": {"url": receiver.url(path)}})
    device = client.call("POST", "devices", {"type": "temperature"})["name"].split("/")[-1]
    event = {"device": device, "data": {"temperature": {"value": 21.5}}}
    for _ in range(EVENTS // BATCH):
        client.call("POST", "devices:publishBatch", {"events": [event] * BATCH})
    client.device = device
    client.publish_one()
    return client


def wait_until_counted(
    server: PrometheusProcess,
    minimums: dict[str, float],
    between_polls: Callable[[], None] = lambda: None,
) -> None:
    """Poll Prometheus until every query reaches its minimum; fail showing what it last saw."""
    seen: dict[str, float] = {}

    def reached() -> bool:
        between_polls()
        seen.update({expr: server.value(expr) for expr in minimums})
        return all(seen[expr] >= minimum for expr, minimum in minimums.items())

    try:
        wait_for(reached, 30, f"Prometheus to count at least {minimums}")
    except AssertionError as error:
        raise AssertionError(f"{error}; last seen: {seen}") from None


def has_data(answer: dict[str, Any]) -> bool:
    """A successful query with at least one sample that is a number."""
    result = answer.get("data", {}).get("result", [])
    return answer.get("status") == "success" and any(
        not math.isnan(float(series["value"][1])) for series in result
    )


@pytest.fixture
def gateway_process(database_url: str, tmp_path: Path) -> Iterator[GatewayProcess]:
    env = gateway_env(
        database_url,
        retry_base="0.2",
        retry_max="0.5",
        poll_interval="0.2",
        delivery_max_age="2",
        auto_disable_after="4",
        log_level="warning",
    )
    process = GatewayProcess(env, tmp_path / "gateway.log")
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture
def prometheus_server(
    gateway_process: GatewayProcess, tmp_path: Path
) -> Iterator[PrometheusProcess]:
    server = PrometheusProcess(tmp_path, f"127.0.0.1:{gateway_process.port}")
    try:
        yield server.start()
    finally:
        server.stop()


def test_every_panel_and_alert_query_works_on_a_real_prometheus(
    gateway_process: GatewayProcess, prometheus_server: PrometheusProcess
) -> None:
    gateway, server = gateway_process, prometheus_server
    wait_for(lambda: server.value('up{job="gateway"}') == 1, 30, "a first scrape of the gateway")
    with receiver_in_thread() as receiver:
        client = publish_load(gateway, receiver)
        wait_until_counted(server, {
            'sum(gateway_push_attempts_total{outcome="success"})': EVENTS,
            'sum(gateway_push_attempts_total{outcome="http_5xx"})': 1,
            "sum(gateway_deliveries_expired_total)": 1,
        })
        # The failing connector is disabled by a failure after GATEWAY_AUTO_DISABLE_AFTER: keep
        # giving it work until then.
        wait_until_counted(server, {
            "sum(gateway_connectors_auto_disabled_total)": 1,
            'max(gateway_connectors{status="SYSTEM_DISABLED"})': 1,
        }, between_polls=client.publish_one)
        assert len(receiver.at("/ok")) >= EVENTS + 1

    dashboard = load_dashboard()
    queries = {q.origin: substitute(q.expr, dashboard) for q in dashboard_queries(dashboard)}
    answers: dict[str, dict[str, Any]] = {}

    def every_panel_has_data() -> bool:
        answers.update({origin: server.query(expr) for origin, expr in queries.items()})
        return all(has_data(answer) for answer in answers.values())

    try:
        wait_for(every_panel_has_data, 20, "every dashboard panel query to return data")
    except AssertionError:
        empty = {o: (queries[o], a) for o, a in answers.items() if not has_data(a)}
        raise AssertionError(f"panel queries without data: {empty}") from None

    for label, query in variable_queries(dashboard):
        answer = server.api(f"label/{label}/values", **{"match[]": query.expr})
        assert answer["status"] == "success" and answer["data"], (query.origin, answer)

    for query in alert_queries():
        answer = server.query(query.expr)
        assert answer["status"] == "success", (query.origin, answer)

    def rules_evaluated() -> bool:
        groups = server.api("rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return len(rules) == len(alert_queries()) and all(
            rule["health"] == "ok" for rule in rules
        )

    wait_for(rules_evaluated, 10, "Prometheus to evaluate every alert rule without error")

    def firing() -> set[str]:
        alerts = server.api("alerts")["data"]["alerts"]
        return {alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"}

    expected = {"GatewayConnectorsAutoDisabled", "GatewayDeliveriesExpiring"}
    wait_for(lambda: expected <= firing(), 10, f"{expected} to fire")


def test_the_real_exposition_passes_promtool(gateway_process: GatewayProcess) -> None:
    with urllib.request.urlopen(gateway_process.url + "/metrics", timeout=10) as answer:
        exposition = answer.read()
    done = subprocess.run(
        [promtool(), "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
