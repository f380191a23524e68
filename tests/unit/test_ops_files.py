"""The deployment files stay true: the image lints, every queried metric exists, Prometheus accepts
the scrape config and the rules, and the gateway's real exposition passes Prometheus' linter."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.harness import Gateway
from tests.ops import (
    ALERTS,
    DASHBOARD,
    PROMETHEUS_DIR,
    ROOT,
    SCRAPE_SERIES,
    alert_queries,
    alert_rules,
    dashboard_queries,
    exported_families,
    exported_series,
    hadolint,
    load_dashboard,
    metric_names,
    promtool,
    substitute,
    variable_queries,
)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{done.args} exited {done.returncode}:\n{output}"


# -- the image -------------------------------------------------------------------------------


def test_hadolint_passes_the_dockerfile() -> None:
    assert_ok(run(hadolint(), "--no-color", str(ROOT / "Dockerfile")))


def test_the_image_runs_the_gateway_unprivileged_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text.split("\nFROM ")[-1]
    assert final.startswith("python:3.11-slim")
    assert 'CMD ["python", "-m", "gateway", "serve"]' in final
    # The health check probes the port answered off the event loop.
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD .*urllib.*GATEWAY_PROBE_PORT.*/healthz", final, re.M)
    assert "GATEWAY_PROBE_PORT=8081" in final and "EXPOSE 8080 8081" in final
    assert re.search(r"^USER [1-9]\d*", final, re.M), "the final stage must not run as root"
    assert "EXPOSE 8080" in final and "GATEWAY_HOST=0.0.0.0" in final
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", final, re.M))
    assert copied == set(), "the final stage runs the installed package, nothing copied beside it"
    kept = set((ROOT / ".dockerignore").read_text().split())
    assert {"*", "!pyproject.toml", "!README.md", "!gateway/"} <= kept


# -- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_is_valid_and_every_panel_queries_prometheus() -> None:
    dashboard = load_dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids must be unique"
    for panel in panels:
        title = panel.get("title")
        assert title and panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"panel {title!r} has no target"
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], title
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], title
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {title!r} is wider than the dashboard"


def test_the_dashboard_shows_what_operators_need() -> None:
    used = set().union(*(metric_names(q.expr) for q in dashboard_queries(load_dashboard())))
    for name in [
        "gateway_events_published_total",
        "gateway_push_attempts_total",
        "gateway_push_duration_seconds_bucket",
        "gateway_delivery_lag_seconds_bucket",
        "gateway_deliveries_pending",
        "gateway_oldest_due_delivery_age_seconds",
        "gateway_connectors",
        "gateway_connectors_auto_disabled_total",
        "gateway_deliveries_expired_total",
        "gateway_retries_scheduled_total",
        "gateway_pushes_in_flight",
        "gateway_db_pool_connections",
        "gateway_http_requests_total",
        "gateway_http_request_duration_seconds_bucket",
    ]:
        assert name in used, f"no panel shows {name}"


def test_every_dashboard_variable_is_defined() -> None:
    dashboard = load_dashboard()
    for query in dashboard_queries(dashboard):
        substituted = substitute(query.expr, dashboard)
        assert "$" not in substituted, (query.origin, substituted)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{x="y{z}", i=~"$i"}[$__rate_interval]))', {"a_bucket"}),
        ("a / ignoring(state) group_left(l) b_total > 0.9 and on() vector(1)", {"a", "b_total"}),
        ("histogram_quantile(0.99, sum without (pod) (rate(c[5m] offset 1h)))", {"c"}),
        ('absent(up{job="gateway"}) or count(d) > bool 1e3', {"up", "d"}),
        ("time() - max(e:recorded)", {"e:recorded"}),
    ],
)
def test_metric_names_are_read_from_expressions(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_metric_a_panel_or_alert_queries_is_exported() -> None:
    exported = exported_series()
    dashboard = load_dashboard()
    panel_queries = dashboard_queries(dashboard) + [q for _, q in variable_queries(dashboard)]
    missing = {
        f"{query.origin}: {name}"
        for query in panel_queries
        for name in metric_names(query.expr) - exported
    }
    missing |= {
        f"{query.origin}: {name}"
        for query in alert_queries()
        for name in metric_names(query.expr) - exported - SCRAPE_SERIES
    }
    assert not missing, "queried but not exported by gateway.metrics.Metrics:\n" + "\n".join(
        sorted(missing)
    )
    assert all(metric_names(query.expr) for query in panel_queries + alert_queries())


# -- Prometheus --------------------------------------------------------------------------------


def test_every_alert_explains_itself() -> None:
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules) >= 6
    for rule in rules:
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]
        assert rule.get("labels", {}).get("severity") in {"critical", "warning", "info"}


def test_promtool_accepts_the_alert_rules() -> None:
    assert_ok(run(promtool(), "check", "rules", str(ALERTS)))


def test_promtool_accepts_the_scrape_config() -> None:
    assert_ok(run(promtool(), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")))


def test_the_alerts_fire_when_they_should_and_only_then() -> None:
    assert_ok(run(promtool(), "test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml")))


def test_every_alert_has_a_firing_unit_test() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert firing == {rule["alert"] for rule in alert_rules()}


async def test_the_real_exposition_passes_promtool(gateway: Gateway) -> None:
    account = await gateway.project()
    device = await gateway.device(account)
    await gateway.publish(account, device, {"temperature": {"value": 21.5}})
    async with gateway.client.get("/metrics") as response:
        assert response.status == 200
        exposition = await response.text()
    done = subprocess.run(
        [promtool(), "check", "metrics"], input=exposition, capture_output=True, text=True,
        timeout=60,
    )
    assert_ok(done)
    assert 'gateway_events_published_total{event_type="temperature"} 1.0' in exposition
    for name in ["gateway_db_pool_connections", "gateway_db_pool_max_connections"]:
        assert f"\n{name}" in exposition


# -- Grafana and Compose -----------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → host path of the service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{source} is mounted but does not exist"
            found[target] = source
    return found


def test_compose_runs_every_part_with_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "gateway", "prometheus", "grafana"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    gateway = services["gateway"]
    assert gateway["build"] == "."
    assert gateway["environment"]["GATEWAY_DATABASE_URL"].startswith("postgresql://")
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:16")
    prometheus = _mounts(services["prometheus"])
    assert prometheus["/etc/prometheus"] == "./deploy/prometheus"
    scraped = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = scraped["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["gateway:8080"]


def test_grafana_provisioning_finds_the_dashboard_and_prometheus() -> None:
    mounts = _mounts(_compose()["services"]["grafana"])
    provisioning = ROOT / "grafana" / "provisioning"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "gateway.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert mounts[provider["options"]["path"]] == "./" + str(DASHBOARD.parent.relative_to(ROOT))
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"


def test_the_operations_guide_lists_every_metric_and_alert() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    for name, kind in exported_families().items():
        shown = f"{name}_total" if kind == "counter" else name
        assert f"`{shown}`" in guide, f"docs/operations.md does not describe {shown}"
    for name in (rule["alert"] for rule in alert_rules()):
        assert f"`{name}`" in guide, f"docs/operations.md does not describe {name}"
