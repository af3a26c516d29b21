"""Issue 6 observability against real components: Debian's Prometheus (and promtool)
scraping a real worker that processes traffic on the real broker, and a real trainer
(`nudge train --from-kafka --every`) serving its own metrics.

deploy/prometheus/prometheus.yml is used as it is, with only its targets and intervals
replaced (scrape and rule evaluation every 1 s). Every PromQL expression of the Grafana
dashboards and of the rules must parse (the query API answers "success") and return data.
Nothing is skipped: without Prometheus these tests fail and say how to install it.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.runtime.broker import free_port
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics
from tests.support import WorkerProcess, produce_json, scrape, settings_env
from tests.unit.test_dashboards import (
    RULES,
    Query,
    condition_operands,
    dashboard_queries,
    load_yaml,
    metric_names,
    rule_queries,
)

CONFIG = RULES.parent / "prometheus.yml"
INSTALL = (
    "Debian's prometheus package provides it: `apt-get install -y --no-install-recommends "
    "prometheus` (as root; `make test` installs it)"
)
T0 = 1_760_000_000_000


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/bin")
    if path is None:
        pytest.fail(f"`{name}` not found. {INSTALL}.", pytrace=False)
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", *map(str, sorted(RULES.glob("*.yml"))))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_config() -> None:
    done = promtool("check", "config", str(CONFIG))  # also checks the rule files it names
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rule_unit_tests_fire_every_alert_as_designed() -> None:
    """deploy/prometheus/tests: synthetic series for which each alert must (not) fire."""
    tests = sorted((RULES.parent / "tests").glob("*.test.yml"))
    assert tests
    done = promtool("test", "rules", *map(str, tests))
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass
class PrometheusProcess:
    """A real ``prometheus`` on a free port with its own storage under ``workdir``."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, targets: dict[str, str]) -> PrometheusProcess:
        """``targets``: job name of prometheus.yml -> ``host:port`` to scrape for it."""
        config = load_yaml(CONFIG)
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(RULES / "*.yml")]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert set(jobs) == set(targets), f"jobs in {CONFIG}: {sorted(jobs)}"
        for name, target in targets.items():
            jobs[name]["static_configs"] = [{"targets": [target]}]
        path = self.workdir / "prometheus.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        log = open(self.workdir / "prometheus.log", "ab")  # noqa: SIM115 - closed with it
        self.process = subprocess.Popen(
            [tool("prometheus"), f"--config.file={path}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             f"--storage.tsdb.path={self.workdir / 'data'}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_seconds: float = 60) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2)
                return
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"prometheus not ready: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.workdir / "prometheus.log").read_text()[-3000:]

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """The JSON answer of the HTTP API, also for errors (HTTP 400/422 bodies)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.api("query", query=expr)
        assert answer["status"] == "success", f"`{expr}`: {answer.get('error')}"
        return answer["data"]["result"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass(frozen=True)
class Observed:
    prometheus: PrometheusProcess
    exposition: str  # the worker's /metrics after all traffic was processed
    trainer_exposition: str  # the trainer's /metrics after its first round


@contextlib.contextmanager
def trainer_process(settings: Settings, tmp: Path, port: int) -> Iterator[None]:
    """``nudge train --from-kafka --every 1h`` with its metrics on ``port``: one round
    (published, rejected or skipped: each is counted), then it waits."""
    args = ["train", "--from-kafka", "--every", "1h", "--metrics-port", str(port),
            "--model-dir", str(tmp / "trained"), "--no-progress", "--no-announce"]  # fmt: skip
    with open(tmp / "trainer.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.apps.cli", *args],
            env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def trained_once(port: int) -> str:
    """The trainer's exposition once its first round is counted ("" before)."""
    try:
        text = scrape(port)
    except OSError:
        return ""
    rounds = [f for f in text_string_to_metric_families(text) if f.name == "nudge_training_rounds"]
    return text if rounds and sum(s.value for s in rounds[0].samples) >= 1 else ""


def request(i: int, user: str, risk_tolerance: int) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": f"req-{i}", "ts": T0 + i, "user_id": user,
            "context": {"age": 30, "risk_tolerance": risk_tolerance}}  # fmt: skip


def impression(decision: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": f"imp-{decision['decision_id']}",
            "ts": decision["ts"] + 10, "user_id": decision["user_id"],
            "decision_id": decision["decision_id"], "arm_id": decision["arm_id"]}  # fmt: skip


def conversion(decision: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": f"conv-{decision['decision_id']}",
            "ts": decision["ts"] + 20, "user_id": decision["user_id"],
            "decision_id": decision["decision_id"], "kind": kind}  # fmt: skip


def orphan(i: int) -> dict[str, Any]:
    """A conversion of a user never nudged: nothing to attribute it to."""
    return {"schema_version": 1, "event_id": f"orphan-{i}", "ts": T0,
            "user_id": f"stranger-{i}", "kind": "purchase"}  # fmt: skip


def consumed(exposition: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "nudge_events_consumed_total":
                topic = sample.labels["topic"]
                totals[topic] = totals.get(topic, 0.0) + sample.value
    return totals


def wait_for(check: Any, what: str, timeout_seconds: float = 120) -> Any:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


def drive_traffic(settings: Settings, worker: WorkerProcess) -> dict[str, float]:
    """Three rounds, each processed before the next, so every counter's rate over the
    run is positive: requests (some that no arm suits -> no nudge), malformed events,
    impressions of the decisions, attributed and orphan conversions."""
    from streams.runtime.kafka import read_topic

    want = {"decision-requests": 0.0, "impressions": 0.0, "conversions": 0.0}
    for round_ in range(3):
        base = round_ * 100
        # risk tolerance 0: no arm is suitable, the guardrails answer "no nudge"
        requests = [request(base + i, f"user-{i % 20}", 0 if i % 10 == 0 else 3)
                    for i in range(60)]  # fmt: skip
        want["decision-requests"] += produce_json(settings, "decision-requests", requests)
        want["decision-requests"] += produce_json(
            settings, "decision-requests", [(b"user-x", b"{not json")] * 2
        )
        messages = read_topic(
            settings, settings.topic("decisions"),
            expect=60 * (round_ + 1), idle_seconds=5, timeout_seconds=120,
        )  # fmt: skip
        decisions = [json.loads(m.value()) for m in messages][60 * round_ :]
        shown = [d for d in decisions if d["arm_id"] is not None]
        impressions = [impression(d) for d in shown]
        conversions = [conversion(d, ("click", "purchase")[j % 2])
                       for j, d in enumerate(shown[::3])]  # fmt: skip
        orphans = [orphan(base + j) for j in range(3)]
        want["impressions"] += produce_json(settings, "impressions", impressions)
        want["conversions"] += produce_json(settings, "conversions", conversions + orphans)
        wait_for(lambda: consumed(worker.metrics()) == want, f"round {round_} processed")
        time.sleep(2)  # at least one scrape between rounds
    return want


@pytest.fixture(scope="module")
def observed(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    tmp = tmp_path_factory.mktemp("observability")
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"o{tag}.", app_id=f"nudge-obs-{tag}",
        partitions=4, state_dir=tmp / "state", model_dir=tmp / "models",
    )  # fmt: skip
    create_topics(settings)
    worker = WorkerProcess(settings, tmp / "worker.log")
    prometheus = PrometheusProcess(tmp)
    trainer_port = free_port()
    with contextlib.ExitStack() as stack:
        stack.callback(worker.stop)
        stack.callback(prometheus.stop)
        worker.start()
        prometheus.start({"nudge-worker": f"127.0.0.1:{worker.settings.metrics_port}",
                          "nudge-trainer": f"127.0.0.1:{trainer_port}",
                          "prometheus": f"127.0.0.1:{prometheus.port}"})  # fmt: skip
        want = drive_traffic(settings, worker)
        stack.enter_context(trainer_process(settings, tmp, trainer_port))
        trained = wait_for(lambda: trained_once(trainer_port), "the trainer's first round")
        # The lag sampler runs every 10 s; give it two rounds (if it is not wired in, the
        # lag queries below fail and say which series is missing).
        lagged = lambda: "nudge_consumer_lag_messages{" in worker.metrics()  # noqa: E731
        with contextlib.suppress(TimeoutError):
            wait_for(lagged, "a consumer lag sample", timeout_seconds=25)
        total = sum(want.values())
        wait_for(lambda: prometheus.query(f"sum(nudge_events_consumed_total) == {total}"),
                 "prometheus to scrape the final counts")  # fmt: skip
        wait_for(lambda: prometheus.query("sum(nudge_training_rounds_total) >= 1"),
                 "prometheus to scrape the trainer's round")  # fmt: skip
        time.sleep(3)  # a few rule evaluations on the final data
        yield Observed(prometheus, worker.metrics(), trained)


def exposed_series(exposition: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(exposition) for s in f.samples}


@pytest.mark.integration
def test_promtool_check_metrics_on_a_worker_exposition(observed: Observed) -> None:
    done = promtool("check", "metrics", stdin=observed.exposition)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_state_keys_counts_the_users_the_worker_holds(observed: Observed) -> None:
    samples = {
        s.name: s.value
        for f in text_string_to_metric_families(observed.exposition)
        for s in f.samples
    }
    assert samples["nudge_state_keys"] >= 20  # user-0 .. user-19 decided in every round


@pytest.mark.integration
def test_every_dashboard_series_is_in_the_worker_exposition(observed: Observed) -> None:
    exposed = exposed_series(observed.exposition + observed.trainer_exposition) | {"up"}
    missing = {
        query.where: sorted(metric_names(query.expr) - exposed)
        for query in dashboard_queries() + rule_queries()
        if metric_names(query.expr) - exposed
    }
    assert not missing, f"series not in the worker's /metrics: {missing}"


@pytest.mark.integration
def test_every_rule_is_loaded_and_evaluates_cleanly(observed: Observed) -> None:
    groups = observed.prometheus.api("rules")["data"]["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert {q.where.split()[1] for q in rule_queries()} == set(loaded)
    for name, rule in loaded.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"
    assert loaded["NudgeTrainerDown"]["state"] == "inactive"
    assert loaded["NudgeWorkerDown"]["state"] == "inactive"


@pytest.mark.integration
def test_the_trainer_exports_its_own_metrics_and_no_worker_metric(observed: Observed) -> None:
    trainer = exposed_series(observed.trainer_exposition)
    assert {"nudge_training_rounds_total", "process_resident_memory_bytes"} <= trainer
    assert not {s for s in trainer if s.startswith("nudge_") and "training" not in s}
    worker = exposed_series(observed.exposition)
    assert {"process_cpu_seconds_total", "process_open_fds"} <= worker


def values(result: list[dict[str, Any]]) -> list[float]:
    return [float(series["value"][1]) for series in result]


@pytest.mark.integration
@pytest.mark.parametrize("query", dashboard_queries() + rule_queries(), ids=lambda q: q.where)
def test_every_expression_parses_and_returns_data(observed: Observed, query: Query) -> None:
    prometheus = observed.prometheus
    if query.kind == "alert":
        # An alert condition is rightly empty while all is well; it must parse, and each
        # value it compares against a threshold must return data.
        prometheus.query(query.expr)
        exprs = condition_operands(query.expr)
    else:
        exprs = [query.expr]
    for expr in exprs:
        result = prometheus.query(expr)
        exposed = exposed_series(observed.exposition + observed.trainer_exposition)
        missing = metric_names(expr) - exposed - {"up"}
        assert result, f"`{expr}` returned no series" + (
            f"; {sorted(missing)} not in the worker's /metrics" if missing else ""
        )
        if query.kind == "panel":  # a panel showing only NaN (0/0) reads the wrong series
            assert any(math.isfinite(v) for v in values(result)), f"`{expr}`: {result}"
