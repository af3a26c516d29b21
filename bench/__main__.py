"""``python -m bench``: the pure step and the state codec against same-run baselines.

Prints one JSON object. Ratios, not seconds, are what to compare between machines.
Baselines: decoding the same request bytes with msgspec alone; a plain dict update of
per-arm counters stored as msgpack (what any hand-written worker would at least do).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import msgspec
import numpy as np

from model.bandit import build_policy
from model.catalog import load_catalog
from model.engine import Engine, Source
from model.events import DecisionRequest, Impression
from model.scoring import ConstantScorer
from state import InMemoryStore
from streams.schemas import decode_event

N = 20_000
REPEATS = 3


def _median_rate(run: Callable[[], int]) -> float:
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def _requests(n: int) -> list[bytes]:
    return [
        msgspec.json.encode(
            DecisionRequest(
                schema_version=1,
                event_id=f"r{i}",
                ts=i,
                user_id=f"u{i % 2000}",
                context={"age": 30, "risk_tolerance": 3},
            )
        )
        for i in range(n)
    ]


def bench_step(policy: str) -> dict[str, float]:
    engine = Engine(load_catalog(), build_policy(policy, {}), ConstantScorer())
    raws = _requests(N)

    def pipeline() -> int:
        store = InMemoryStore()
        for offset, raw in enumerate(raws):
            event = decode_event("decision-requests", raw, None, 65536)
            assert isinstance(event, DecisionRequest)
            result = engine.step(store.get(event.user_id), event, Source("r", 0, offset))
            store.put(event.user_id, result.state)
            if result.decision is not None:
                msgspec.json.encode(result.decision)
        return len(raws)

    def baseline() -> int:
        store: dict[str, bytes] = {}
        scores = np.full(81, 0.1)
        for raw in raws:
            event = msgspec.json.decode(raw, type=DecisionRequest)
            counts = msgspec.msgpack.decode(store.get(event.user_id, b"\x80"))
            arm = int(np.argmax(scores))
            counts[str(arm)] = counts.get(str(arm), 0) + 1
            store[event.user_id] = msgspec.msgpack.encode(counts)
        return len(raws)

    step_rate, base_rate = _median_rate(pipeline), _median_rate(baseline)
    return {
        "events_per_second": round(step_rate),
        "baseline_events_per_second": round(base_rate),
        "ratio_to_baseline": round(step_rate / base_rate, 3),
    }


def bench_outcomes() -> dict[str, float]:
    engine = Engine(load_catalog(), build_policy("epsilon-greedy", {}), ConstantScorer())
    arm = load_catalog().arm_ids[0]
    events = [
        Impression(
            schema_version=1,
            event_id=f"i{i}",
            ts=i,
            user_id=f"u{i % 2000}",
            decision_id=f"d{i}",
            arm_id=arm,
        )
        for i in range(N)
    ]

    def run() -> int:
        store = InMemoryStore()
        for offset, event in enumerate(events):
            result = engine.step(store.get(event.user_id), event, Source("i", 0, offset))
            store.put(event.user_id, result.state)
        return len(events)

    return {"impressions_per_second": round(_median_rate(run))}


def main() -> None:
    report = {"events": N, "repeats": REPEATS, "step": {}}
    for policy in ("epsilon-greedy", "thompson", "ucb1"):
        try:
            report["step"][policy] = bench_step(policy)
        except Exception as exc:  # noqa: BLE001 - a missing policy is reported, not fatal
            report["step"][policy] = {"error": str(exc)}
    report["outcomes"] = bench_outcomes()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
