"""The pure step on decision requests and on impressions, against a plain-dict baseline.

Baseline: decoding the same request bytes with msgspec alone and a plain dict update of
per-arm counters stored as msgpack (what any hand-written worker would at least do).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from bench.timing import median_rate, rate_entry
from model.bandit import build_policy
from model.catalog import load_catalog
from model.engine import Engine, Source
from model.events import DecisionRequest, Impression
from model.scoring import ConstantScorer
from state import InMemoryStore
from streams.runtime.schemas import decode_event

__all__ = ["STEP_POLICIES", "bench_outcomes", "bench_step"]

STEP_POLICIES = ("epsilon-greedy", "thompson", "ucb1")
N_USERS = 2_000
T0_MS = 1_760_000_000_000  # event times must lie in the contract's 2000-2100 range


def _requests(n: int) -> list[bytes]:
    return [
        msgspec.json.encode(
            DecisionRequest(
                schema_version=1,
                event_id=f"r{i}",
                ts=T0_MS + i,
                user_id=f"u{i % N_USERS}",
                context={"age": 30, "risk_tolerance": 3},
            )
        )
        for i in range(n)
    ]


def _step_requests(engine: Engine, raws: list[bytes]) -> int:
    store = InMemoryStore()
    for offset, raw in enumerate(raws):
        event = decode_event("decision-requests", raw, None, 65536)
        assert isinstance(event, DecisionRequest)
        result = engine.step(store.get(event.user_id), event, Source("r", 0, offset))
        store.put(event.user_id, result.state)
        if result.decision is not None:
            msgspec.json.encode(result.decision)
    return len(raws)


def _dict_requests(raws: list[bytes]) -> int:
    store: dict[str, bytes] = {}
    scores = np.full(81, 0.1)
    for raw in raws:
        event = msgspec.json.decode(raw, type=DecisionRequest)
        counts = msgspec.msgpack.decode(store.get(event.user_id, b"\x80"))
        arm = int(np.argmax(scores))
        counts[str(arm)] = counts.get(str(arm), 0) + 1
        store[event.user_id] = msgspec.msgpack.encode(counts)
    return len(raws)


def bench_step(policy: str, n_requests: int, repeats: int) -> dict[str, Any]:
    """Decision requests per second: decode, load, step, store, encode the decision."""
    engine = Engine(load_catalog(), build_policy(policy, {}), ConstantScorer())
    raws = _requests(n_requests)
    rate = median_rate(lambda: _step_requests(engine, raws), repeats)
    return rate_entry(rate, median_rate(lambda: _dict_requests(raws), repeats))


def bench_outcomes(n_impressions: int, repeats: int) -> dict[str, Any]:
    """Impressions per second through the step (already decoded; no baseline)."""
    engine = Engine(load_catalog(), build_policy("epsilon-greedy", {}), ConstantScorer())
    arm = load_catalog().arm_ids[0]
    events = [
        Impression(
            schema_version=1,
            event_id=f"i{i}",
            ts=T0_MS + i,
            user_id=f"u{i % N_USERS}",
            decision_id=f"d{i}",
            arm_id=arm,
        )
        for i in range(n_impressions)
    ]

    def run() -> int:
        store = InMemoryStore()
        for offset, event in enumerate(events):
            result = engine.step(store.get(event.user_id), event, Source("i", 0, offset))
            store.put(event.user_id, result.state)
        return len(events)

    return {"impressions_per_second": round(median_rate(run, repeats))}
