"""Decisions/s and state updates/s of one ``nudge worker``, timed from outside.

A run: pre-load N decision requests, start the worker, poll its /metrics until all N
were consumed (decisions/s between 10 % and 90 %); stop it, read its decisions back,
pre-load one impression and one purchase conversion per decision that showed an arm,
start it again and time it applying them (state updates/s, same window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.kafka import load
from bench.kafka.context import Bench, Names
from bench.kafka.measure import Run, poll_count
from bench.kafka.procs import Worker, wait_committed, workers
from bench.kafka.stats import median_entry
from bench.timing import note

__all__ = ["Case", "bench_case", "kind_total", "worker_run"]

OUTCOME_KINDS = ("impressions", "conversions")


@dataclass(frozen=True)
class Case:
    """What one worker runs: a policy, a catalog (None = the shipped 81 arms) and the
    processing guarantee (the Quix engine's; Faust's is at-least-once)."""

    label: str
    policy: str = "thompson"
    catalog: Path | None = None
    guarantee: str = "at-least-once"
    # then N more requests of the same users, who now have evidence (impressions and
    # purchases): Thompson's race integrates there; for new users it is kept per score
    evidence: bool = False

    @property
    def key(self) -> str:
        suffix = "" if self.guarantee == "at-least-once" else f"-{self.guarantee}"
        return f"{self.policy}-{self.label}-arms{suffix}"


def kind_total(counts: Mapping[tuple[str, str], float], *kinds: str) -> float:
    """Events of ``kinds`` consumed, whatever their outcome."""
    return sum(v for (kind, _), v in counts.items() if kind in kinds)


def _breakdown(counts: Mapping[tuple[str, str], float]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (kind, outcome), value in sorted(counts.items()):
        if value:
            out.setdefault(kind, {})[outcome] = int(value)
    return out


def timed(worker: Worker, expected: int, kinds: tuple[str, ...], what: str) -> Run:
    def count() -> float:
        return kind_total(worker.consumed(), *kinds)

    return poll_count(count, expected, what, alive=worker.check_alive)


def worker_run(bench: Bench, engine: str, case: Case, n: int, users: int) -> dict[str, Any]:
    """One run of ``case`` on a fresh prefix: both rates and what was counted."""
    names = bench.names(f"{engine}-{case.label}")
    env = bench.env(names, engine=engine, policy=case.policy, catalog=case.catalog)
    env["NUDGE_PROCESSING_GUARANTEE"] = case.guarantee
    bench.topics(names, engine)
    requests_topic = names.topic("decision-requests")
    load.produce(bench.bootstrap, requests_topic, load.requests(n, users, "t"))
    with workers(lambda _: bench.worker(names, env, "decide"), 1) as (worker,):
        decide = timed(worker, n, ("decision-requests",), f"{names.app_id} decisions")
        decide_counts = worker.consumed()
        # stopped once its offsets are committed: requests redelivered after the restart
        # would be processed inside the state-update window
        committed = wait_committed(bench.bootstrap, names.app_id, [requests_topic])
    decisions = list(load.decisions_of(bench.bootstrap, names.topic("decisions")))
    impressions, conversions = load.outcomes_for(decisions)
    load.produce(bench.bootstrap, names.topic("impressions"), impressions)
    load.produce(bench.bootstrap, names.topic("conversions"), conversions)
    expected = len(impressions) + len(conversions)
    with workers(lambda _: bench.worker(names, env, "update"), 1) as (worker,):
        update = timed(worker, expected, OUTCOME_KINDS, f"{names.app_id} state updates")
        update_counts = worker.consumed()
    evidence = _evidence_run(bench, names, env, n, users) if case.evidence else {}
    return {
        **evidence,
        "names": names,
        "decisions_per_second": decide.rate,
        "state_updates_per_second": update.rate,
        "machine_cores_busy": {
            "decide": decide.machine_cores_busy,
            "update": update.machine_cores_busy,
        },
        "counts": {
            "requests": n,
            "decisions_read_back": len(decisions),
            "outcomes_produced": expected,
            "decide_phase": _breakdown(decide_counts),
            "update_phase": _breakdown(update_counts),
            "requests_committed_before_restart": committed,
            "stalled": decide.stalled or update.stalled,
        },
    }


def _evidence_run(
    bench: Bench, names: Names, env: dict[str, str], n: int, users: int
) -> dict[str, Any]:
    """Decisions/s of N more requests of the same users, after their outcomes."""
    requests_topic = names.topic("decision-requests")
    # two days later: the frequency cap's 24-hour window has passed
    later = load.requests(n, users, "t2", ts_offset_ms=2 * 86_400_000)
    load.produce(bench.bootstrap, requests_topic, later)
    with workers(lambda _: bench.worker(names, env, "evidence"), 1) as (worker,):
        run = timed(worker, n, ("decision-requests",), f"{names.app_id} decisions, evidence")
    return {
        "decisions_with_evidence_per_second": run.rate,
        "machine_cores_busy_with_evidence": run.machine_cores_busy,
    }


def bench_case(
    bench: Bench, engine: str, case: Case, n: int, users: int, repeats: int
) -> tuple[dict[str, Any], Names]:
    """Median decisions/s and state updates/s of ``repeats`` runs; the last run's names
    (its topics hold requests, impressions and conversions for the baselines)."""
    runs = []
    for repeat in range(repeats):
        note(f"{engine} {case.policy} {case.label} arms: run {repeat + 1}/{repeats} ({n} requests)")
        runs.append(worker_run(bench, engine, case, n, users))
    report = {
        "policy": case.policy,
        "arms": case.label,
        "processing_guarantee": case.guarantee,
        "decisions": median_entry([r["decisions_per_second"] for r in runs]),
        "state_updates": median_entry([r["state_updates_per_second"] for r in runs]),
        **(
            {
                "decisions_with_evidence": median_entry(
                    [r["decisions_with_evidence_per_second"] for r in runs]
                )
            }
            if case.evidence
            else {}
        ),
        "counts": [r["counts"] for r in runs],
        "machine_cores_busy": [r["machine_cores_busy"] for r in runs],
    }
    return report, runs[-1]["names"]
