"""The ``kafka`` section: a broker of its own, the same-run baselines, then per engine the
worker's throughput cases, latency at fixed rates, 2 workers vs 1 and RSS at many users."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from bench.kafka import load
from bench.kafka.baselines import run_baseline
from bench.kafka.context import Bench
from bench.kafka.cpu import cores_used
from bench.kafka.latency import paced_round_trip
from bench.kafka.memory import worker_rss
from bench.kafka.procs import NUDGE, broker, workers
from bench.kafka.scale import workers_rate
from bench.kafka.stats import median_entry, ratio
from bench.kafka.targets import check_targets
from bench.kafka.throughput import Case, bench_case
from bench.timing import note

__all__ = ["KafkaSizes", "bench_kafka", "engine_support"]


@dataclass(frozen=True)
class KafkaSizes:
    # per Quix worker run (then as many impressions + conversions): at 8-12k events/s
    # a window of 3-5 s; with 6,000 it was under a second, and runs spread 5-9k/s
    requests: int = 30_000
    users: int = 3_000
    worker_repeats: int = 3  # runs of the headline case (thompson, 81 arms); others once
    baseline_events: int = 30_000  # per source topic
    repeats: int = 3  # baselines
    latency_seconds: float = 6.0
    latency_rates: tuple[int, ...] = (500, 2_000)
    rss_users: int = 1_000_000
    partitions: int = 4
    # Faust recovers ~2-4k users/s on 2 shared cores: 10^6 alone would take 5-10 minutes
    faust_rss_users: int = 100_000
    # per Faust worker run: it does 1-2k events/s, so this is already a 3-5 s window
    faust_requests: int = 6_000

    @classmethod
    def quick(cls) -> KafkaSizes:
        return cls(
            1_000, 500, 1, 3_000, 1, 2.0, (200,), 20_000, faust_rss_users=20_000,
            faust_requests=1_000,
        )  # fmt: skip

    def requests_for(self, engine: str) -> int:
        return self.faust_requests if engine == "faust" else self.requests


def engine_support() -> bool:
    """Whether ``nudge worker`` takes ``--engine`` (before that, it is Faust only)."""
    done = subprocess.run([*NUDGE, "worker", "--help"], capture_output=True, text=True)
    return "--engine" in done.stdout


def _baselines(bench: Bench, sizes: KafkaSizes) -> dict[str, Any]:
    names = bench.names("baseline")
    bench.topics(names, "faust")
    n = sizes.baseline_events
    sources = [names.topic(k) for k in ("decision-requests", "impressions", "conversions")]
    fake = [
        {"user_id": f"u{i % sizes.users}", "decision_id": f"d{i}", "arm_id": "a"} for i in range(n)
    ]
    impressions, conversions = load.outcomes_for(fake)
    load.produce(bench.bootstrap, sources[0], load.requests(n, sizes.users, "b"))
    load.produce(bench.bootstrap, sources[1], impressions)
    load.produce(bench.bootstrap, sources[2], conversions)
    out = bench.extra_topic(names.topic("bare-out"))
    plans = {
        "consume_decode": ("consume", sources[:1], None, n),
        "consume_decode_produce": ("consume_produce", sources[:1], out, n),
        "quix_stateful": ("quix_stateful", sources, out, 3 * n),
    }
    report = {}
    for label, (name, topics, target, expected) in plans.items():
        rates = []
        for repeat in range(sizes.repeats):
            note(f"baseline {label}: run {repeat + 1}/{sizes.repeats} ({expected} events)")
            rates.append(
                run_baseline(name, bench.bootstrap, topics, target, expected, bench.work_dir).rate
            )
        report[label] = median_entry(rates) | {"events": expected}
    return report


def _cases(work_dir: Path, engine: str) -> list[tuple[Case, bool]]:
    """(case, headline): the headline case runs ``worker_repeats`` times, others once;
    the Quix engine also runs the headline case exactly-once (Kafka transactions)."""
    catalog = load.write_catalog(work_dir / "catalog-200.json", 200)
    cases = [
        (Case("81", "thompson", evidence=True), True),
        (Case("81", "epsilon-greedy"), False),
        (Case("200", "thompson", catalog), False),
    ]
    if engine == "quix":
        cases.append((Case("81", "thompson", guarantee="exactly-once"), False))
    return cases


def _latency(bench: Bench, engine: str, sizes: KafkaSizes) -> dict[str, Any]:
    names = bench.names(f"{engine}-latency")
    env = bench.env(names, engine=engine)
    bench.topics(names, engine)
    echo = bench.extra_topic(names.topic("echo"))
    report: dict[str, Any] = {}
    # a brand-new topic can take seconds before a consumer is served: prime the echo
    paced_round_trip(bench.bootstrap, echo, echo, _event_id, 20, 1.0, sizes.users, "p", 0)
    with workers(lambda _: bench.worker(names, env, "latency"), 1) as started:
        pids = {"worker": started[0].pid, **_broker_pid(bench)}
        for rate in sizes.latency_rates:
            note(f"{engine} latency at {rate} requests/s ({sizes.latency_seconds:g} s)")
            requests, decisions = names.topic("decision-requests"), names.topic("decisions")
            seconds, users = sizes.latency_seconds, sizes.users
            # the echo first: a worker that falls behind would still be busy during it
            with cores_used(pids) as echo_cores:
                baseline = paced_round_trip(
                    bench.bootstrap, echo, echo, _event_id, rate, seconds, users, f"e{rate}"
                )
            with cores_used(pids) as worker_cores:
                worker = paced_round_trip(
                    bench.bootstrap, requests, decisions, _request_id, rate, seconds, users,
                    f"l{rate}",
                )  # fmt: skip
            report[str(rate)] = {
                "worker": worker | {"cores_used": worker_cores},
                "echo": baseline | {"cores_used": echo_cores},
            }
    return report


def _broker_pid(bench: Bench) -> dict[str, int]:
    """The broker's process id, from the pid file ``nudge broker start`` keeps."""
    try:
        info = json.loads((bench.work_dir / "broker" / "broker.json").read_text())
        return {"broker": int(info["pid"])}
    except (OSError, ValueError, KeyError):
        return {}


def _request_id(decision: dict[str, Any]) -> str:
    return str(decision["request_id"])


def _event_id(event: dict[str, Any]) -> str:
    return str(event["event_id"])


def _guard(what: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One figure's failure is reported in its place; the others still run."""
    try:
        return run()
    except (RuntimeError, TimeoutError, OSError, KafkaException) as exc:
        note(f"{what} failed: {exc}")
        return {"error": str(exc)[-2000:]}


def _case(bench: Bench, engine: str, case: Case, sizes: KafkaSizes, repeats: int) -> dict[str, Any]:
    return bench_case(bench, engine, case, sizes.requests_for(engine), sizes.users, repeats)[0]


def _engine(bench: Bench, engine: str, sizes: KafkaSizes) -> dict[str, Any]:
    report: dict[str, Any] = {"cases": {}}
    for case, headline in _cases(bench.work_dir, engine):
        key = case.key
        repeats = sizes.worker_repeats if headline else 1
        report["cases"][key] = _guard(key, partial(_case, bench, engine, case, sizes, repeats))
    report["latency"] = _guard("latency", lambda: _latency(bench, engine, sizes))
    report["scale"] = _guard("scale", lambda: _scale(bench, engine, sizes))
    report["memory"] = _guard("memory", lambda: _memory(bench, engine, sizes))
    return report


def _scale(bench: Bench, engine: str, sizes: KafkaSizes) -> dict[str, Any]:
    n = sizes.requests_for(engine)
    one = workers_rate(bench, engine, 1, n, sizes.users)
    two = workers_rate(bench, engine, 2, n, sizes.users)
    speedup = ratio(two["decisions_per_second"], one["decisions_per_second"])
    return {"one_worker": one, "two_workers": two, "speedup": speedup}


def _memory(bench: Bench, engine: str, sizes: KafkaSizes) -> dict[str, Any]:
    empty = worker_rss(bench, engine, 0)
    if "skipped" in empty:
        return empty
    full = worker_rss(
        bench, engine, sizes.faust_rss_users if engine == "faust" else sizes.rss_users
    )
    return {"empty": empty, "full": full}


def bench_kafka(
    engines: list[str], sizes: KafkaSizes, work_dir: Path | None = None
) -> dict[str, Any]:
    """The whole section (see the module doc); the broker always stopped at the end."""
    own = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="nudge-bench-kafka-")) if own else work_dir
    assert root is not None
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    has_engines = engine_support()
    report: dict[str, Any] = {
        "sizes": sizes.__dict__ | {"latency_rates": list(sizes.latency_rates)}
    }
    try:
        with broker(root / "broker") as bootstrap:
            note(f"kafka: broker at {bootstrap} ({root})")
            bench = Bench(bootstrap, root, sizes.partitions)
            report["baselines"] = _guard("baselines", lambda: _baselines(bench, sizes))
            report["engines"] = {}
            for engine in engines:
                if not has_engines and engine != "faust":
                    why = "`nudge worker` has no --engine yet: today's worker is Faust"
                    report["engines"][engine] = {"skipped": why}
                    note(f"kafka: {engine} skipped: {why}")
                    continue
                report["engines"][engine] = _engine(bench, engine, sizes)
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["targets"] = check_targets(report)
    return report
