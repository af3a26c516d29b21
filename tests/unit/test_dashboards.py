"""Grafana dashboards and Prometheus rules, checked without a broker or a Prometheus.

Also home of the helpers that list every PromQL expression of deploy/ (dashboards and
rules); tests/integration/test_observability.py evaluates them on a real Prometheus.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from streams.runtime.metrics import Metrics, TrainerMetrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
RULES = REPO / "deploy" / "prometheus" / "rules"
# Grafana's built-in interval variables, as Grafana would expand them for a 1 h view.
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "15s", "$__range": "1h"}
PROMETHEUS_OWN = {"up"}  # series Prometheus itself writes for every target
# The dashboards' template variables, and the matchers a panel's selectors carry: a worker
# series filters on the worker job and instance, a trainer series on the trainer job.
VARIABLES = ("datasource", "job", "instance", "trainer_job")
WORKER_MATCHERS = ('job=~"$job"', 'instance=~"$instance"')
TRAINER_MATCHERS = ('job=~"$trainer_job"',)
PROCESS_SERIES = {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"}
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![\w:])((?:nudge|process)_[a-z0-9_]+|up)(?![\w:(])")
_SELECTOR = re.compile(r"(?<![\w:])((?:nudge|process)_[a-z0-9_]+|up)(\{[^}]*\})?(?![\w:(])")
_RECORDED = re.compile(r"(?<![\w:])(nudge:[a-z0-9_:]+)")
_SPLIT = re.compile(r"\s(and|or|unless)\s|(==|!=|>=|<=|>|<)")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of deploy/, with where it comes from (for messages)."""

    where: str
    expr: str
    kind: str  # "panel", "record" or "alert"


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows unfolded, rows themselves left out)."""
    found = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def variable_defaults(dashboard: dict[str, Any]) -> dict[str, str]:
    """``$name`` -> the regex Grafana puts there for the variable's default (All: allValue;
    several values: ``(a|b)``); the datasource variable is no part of a query."""
    found = {}
    for var in dashboard["templating"]["list"]:
        if var["type"] == "datasource":
            continue
        value = var["current"]["value"]
        values = value if isinstance(value, list) else [value]
        regex = var["allValue"] if "$__all" in values else "|".join(map(_escape, values))
        found[f"${var['name']}"] = f"({regex})" if len(values) > 1 else regex
    return found


def _escape(value: str) -> str:
    """A value as Grafana escapes it for a Prometheus regex."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", value)


def grafana_to_promql(expr: str, variables: dict[str, str] | None = None) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    for name, value in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    return expr


def dashboard_queries() -> list[Query]:
    queries = []
    for name, dashboard in dashboards().items():
        variables = variable_defaults(dashboard)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                where = f"{name} panel {panel['id']} {panel['title']!r} {target.get('refId')}"
                expr = grafana_to_promql(target["expr"], variables)
                queries.append(Query(where, expr, "panel"))
    return queries


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(RULES.glob("*.yml"))
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def rule_queries() -> list[Query]:
    return [
        Query(f"{'alert' if 'alert' in r else 'record'} {r.get('alert') or r['record']}",
              " ".join(str(r["expr"]).split()), "alert" if "alert" in r else "record")
        for r in rules()
    ]  # fmt: skip


def condition_operands(expr: str) -> list[str]:
    """The value expressions an alert condition compares: ``a > 1 and b == 0`` -> ``[a, b]``.

    Splits at top-level ``and``/``or``/``unless`` and keeps the left side of each top-level
    comparison; brackets and quoted strings are opaque (so ``{reason!~"x"}`` is kept).
    """
    blanked = _QUOTED.sub(lambda m: "_" * len(m.group()), expr)
    depth, cuts = 0, []  # (start, end, is a set operator) of each top-level operator
    for i, char in enumerate(blanked):
        depth += (char in "([{") - (char in ")]}")
        match = _SPLIT.match(blanked, i) if depth == 0 else None
        if match:
            cuts.append((match.start(), match.end(), match.group(1) is not None))
    clauses, start = [], 0
    for begin, end, is_set_operator in cuts:
        if is_set_operator:
            clauses.append((start, begin))
            start = end
    clauses.append((start, len(expr)))
    operands = []
    for first, last in clauses:
        compare = next((b for b, _, is_set in cuts if not is_set and first <= b < last), last)
        operands.append(expr[first:compare].strip())
    return operands


def metric_names(expr: str) -> set[str]:
    """Raw series names a query reads (nudge_* and up; recording rules excluded)."""
    return set(_METRIC.findall(_QUOTED.sub('""', expr)))


def recorded_names(expr: str) -> set[str]:
    return set(_RECORDED.findall(_QUOTED.sub('""', expr)))


def declared_series() -> set[str]:
    """Every series name ``streams.runtime.metrics.Metrics`` can expose."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"],
                "info": ["_info"], "gauge": [""]}  # fmt: skip
    return {
        family.name + suffix
        for registry in (Metrics().registry, TrainerMetrics().registry)
        for family in registry.collect()
        for suffix in suffixes[family.type]
    }


def test_dashboards_are_json_with_fixed_unique_uids() -> None:
    found = dashboards()
    assert len(found) >= 2
    uids = [d.get("uid") for d in found.values()]
    assert all(isinstance(u, str) and re.fullmatch(r"[a-z0-9-]{1,40}", u) for u in uids), uids
    assert len(set(uids)) == len(uids)
    assert len({d["title"] for d in found.values()}) == len(found)
    assert all(d.get("id") is None for d in found.values()), "ids are Grafana's, not ours"


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_every_panel_has_a_query_on_the_datasource_variable(name: str) -> None:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    provisioned = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"][0]
    assert provisioned["uid"] not in (DASHBOARDS / name).read_text(), "a hard-coded uid"
    dashboard = dashboards()[name]
    shown = panels(dashboard)
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    ids = [p["id"] for p in rows + shown]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in shown:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"panel {panel['title']!r} has an empty query"
            assert target["datasource"] == datasource
        assert panel["datasource"] == datasource
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])


def test_every_queried_series_is_one_streams_metrics_defines() -> None:
    declared = declared_series() | PROMETHEUS_OWN
    recorded = {r["record"] for r in rules() if "record" in r}
    for query in dashboard_queries() + rule_queries():
        assert metric_names(query.expr) <= declared, (query.where, metric_names(query.expr))
        assert recorded_names(query.expr) <= recorded, query.where
    panel_recorded = set().union(*(recorded_names(q.expr) for q in dashboard_queries()))
    assert not panel_recorded, "dashboards read raw series, so they work without the rules"


def test_dashboards_cover_every_worker_metric() -> None:
    """Each metric the issue asks a panel for is read by at least one panel."""
    read = set().union(*(metric_names(q.expr) for q in dashboard_queries()))
    own = {s for s in declared_series() if not s.startswith("process_")}
    wanted = {s for s in own if not s.endswith(("_sum", "_count"))} | PROCESS_SERIES
    assert wanted <= read, sorted(wanted - read)


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboards_have_the_datasource_job_and_instance_variables(name: str) -> None:
    found = {v["name"]: v for v in dashboards()[name]["templating"]["list"]}
    assert tuple(found) == VARIABLES
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    for var in VARIABLES[1:]:
        assert found[var]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert '{job=~"$job"}' in found["instance"]["query"]["query"]  # workers of the chosen job
    assert variable_defaults(dashboards()[name]) == {
        "$job": "nudge-worker",
        "$instance": ".+",
        "$trainer_job": "nudge-trainer",
    }  # the jobs of deploy/prometheus/prometheus.yml


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_every_panel_query_filters_on_the_variables(name: str) -> None:
    """Every series a panel reads is scoped: a worker's by ``$job`` and ``$instance``, the
    trainer's by ``$trainer_job``; a query that names a job itself is refused."""
    trainer_series = {s for s in declared_series() if s.startswith("nudge_training_")}
    for panel in panels(dashboards()[name]):
        for target in panel["targets"]:
            expr = _QUOTED.sub(lambda m: m.group() if "$" in m.group() else '""', target["expr"])
            selectors = _SELECTOR.findall(expr)
            assert selectors, f"{panel['title']!r}: no series"
            for series, labels in selectors:
                trainer = series in trainer_series or 'job=~"$trainer_job"' in labels
                wanted = TRAINER_MATCHERS if trainer else WORKER_MATCHERS
                assert all(m in labels for m in wanted), f"{panel['title']!r}: {series}{labels}"
            assert 'job="' not in target["expr"], panel["title"]


def test_alerts_cover_the_operational_risks() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert {"NudgeWorkerDown", "NudgeConsumerLagGrowing", "NudgeDeadLetterRateHigh",
            "NudgeModelStale", "NudgeDecisionLatencyHigh"} <= set(alerts)  # fmt: skip
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] in {"warning", "critical"}, name
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], name


@pytest.mark.parametrize(
    ("expr", "operands"),
    [
        ('up{job="nudge-worker"} == 0', ['up{job="nudge-worker"}']),
        ("deriv(x[10m]) > 0 and x > 1000", ["deriv(x[10m])", "x"]),
        ('rate(a{r!~"o.*"}[5m]) / rate(b[5m]) > 0.01', ['rate(a{r!~"o.*"}[5m]) / rate(b[5m])']),
        ("histogram_quantile(0.99, sum by (le) (rate(h[5m])))", None),
        ('x{a=">"} >= 2 unless y', ['x{a=">"}', "y"]),
    ],
)
def test_condition_operands(expr: str, operands: list[str] | None) -> None:
    assert condition_operands(expr) == (operands or [expr])
