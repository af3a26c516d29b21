"""The pure step on decision requests and on impressions, against a plain-dict baseline.

Baseline: decoding the same request bytes with msgspec alone and a plain dict update of
per-arm counters stored as msgpack (what any hand-written worker would at least do).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bench.timing import median_rate, rate_entry
from model.bandit import build_policy
from model.catalog import Catalog, load_catalog
from model.engine import Engine, Source
from model.events import Conversion, DecisionRequest, Impression
from model.loop import step_in_store
from model.scoring import ConstantScorer
from state import InMemoryStore
from streams.runtime.schemas import decode_event

__all__ = ["STEP_POLICIES", "bench_outcomes", "bench_step", "bench_step_evidence", "step_catalog"]
__all__ += ["decisions_workload", "outcomes_workload"]

STEP_POLICIES = ("epsilon-greedy", "thompson", "ucb1")
N_USERS = 2_000
T0_MS = 1_760_000_000_000  # event times must lie in the contract's 2000-2100 range


def step_catalog(arms: int | None = None) -> Catalog:
    """The shipped catalog (``None``), or one of exactly ``arms`` arms: the shipped
    products cloned (with a suffix) times the shipped strategies, cut to size, risk
    levels as shipped (as the Kafka section's 200-arm case)."""
    if arms is None:
        return load_catalog()
    shipped = json.loads(resources.files("model").joinpath("data/catalog.json").read_text())
    strategies, products = shipped["strategies"], []
    while len(products) * len(strategies) < arms:
        copy = len(products) // len(shipped["products"])
        products += [{**p, "product_id": f"{p['product_id']}_{copy}"} for p in shipped["products"]]
    pairs = [f"{p['product_id']}:{s['strategy_id']}" for p in products for s in strategies]
    doc = {"version": 1, "products": products, "strategies": strategies, "arms": pairs[:arms]}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalog.json"
        path.write_text(json.dumps(doc))
        return load_catalog(path)


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


def _step_requests(engine: Engine, raws: list[bytes], store: InMemoryStore | None = None) -> int:
    store = store if store is not None else InMemoryStore()
    for offset, raw in enumerate(raws):
        event = decode_event("decision-requests", raw, None, 65536)
        assert isinstance(event, DecisionRequest)
        result = step_in_store(engine, store, event, Source("r", 0, offset))
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


def bench_step(
    policy: str, n_requests: int, repeats: int, arms: int | None = None
) -> dict[str, Any]:
    """Decision requests per second: decode, load, step, store, encode the decision."""
    raws = _requests(n_requests)
    rate = median_rate(decisions_workload(policy, n_requests, arms), repeats)
    return rate_entry(rate, median_rate(lambda: _dict_requests(raws), repeats))


def decisions_workload(policy: str, n_requests: int, arms: int | None = None) -> Callable[[], int]:
    """What :func:`bench_step` times: a run that steps the requests through a new store,
    returning their number."""
    engine = Engine(step_catalog(arms), build_policy(policy, {}), ConstantScorer())
    raws = _requests(n_requests)
    return lambda: _step_requests(engine, raws)


def _with_evidence(engine: Engine, rounds: int) -> InMemoryStore:
    """Every user after ``rounds`` decisions, each impressed, one in four purchased: the
    users of a running service, whose arms have evidence (Thompson's race then runs its
    integral; for users without evidence it is the same for all and kept)."""
    store = InMemoryStore()
    offset = 0
    for i, raw in enumerate(_requests(rounds * N_USERS)):
        request = msgspec.json.decode(raw, type=DecisionRequest)
        # two days before: outside the frequency cap's 24-hour window
        request = msgspec.structs.replace(request, event_id=f"e{i}", ts=T0_MS - 2 * 86_400_000 + i)
        decision = step_in_store(engine, store, request, Source("seed-r", 0, offset)).decision
        offset += 1
        if decision is None or decision.arm_id is None:
            continue
        ids = {"user_id": request.user_id, "decision_id": decision.decision_id}
        shown = Impression(
            schema_version=1, event_id=f"ei{i}", ts=request.ts, arm_id=decision.arm_id, **ids
        )
        step_in_store(engine, store, shown, Source("seed-i", 0, offset))
        if i % 4 == 0:
            bought = Conversion(
                schema_version=1, event_id=f"ec{i}", ts=request.ts, kind="purchase", **ids
            )
            step_in_store(engine, store, bought, Source("seed-c", 0, offset))
    return store


def bench_step_evidence(
    policy: str, n_requests: int, repeats: int, arms: int | None = None, rounds: int = 3
) -> dict[str, Any]:
    """Decision requests per second, as :func:`bench_step`, of users who already saw
    ``rounds`` nudges (impressions on several arms, some purchases)."""
    engine = Engine(step_catalog(arms), build_policy(policy, {}), ConstantScorer())
    seeded = _with_evidence(engine, rounds)
    raws = _requests(n_requests)

    def run() -> int:
        store = InMemoryStore()
        for user in list(seeded.users()):
            store.put_bytes(user, seeded.get_bytes(user) or b"")
        return _step_requests(engine, raws, store)

    rate = median_rate(run, repeats)
    return rate_entry(rate, median_rate(lambda: _dict_requests(raws), repeats))


def bench_outcomes(n_impressions: int, repeats: int, arms: int | None = None) -> dict[str, Any]:
    """Impressions per second through the step (already decoded; no baseline), each of a
    decision the user's state holds (an impression of an unknown decision is an orphan
    that changes nothing, and would flatter the figure)."""
    run = outcomes_workload(n_impressions, arms)
    return {"impressions_per_second": round(median_rate(run, repeats))}


def outcomes_workload(n_impressions: int, arms: int | None = None) -> Callable[[], int]:
    """What :func:`bench_outcomes` times: a run that puts every user's decided state in a
    new store and steps the impressions, returning their number."""
    engine = Engine(step_catalog(arms), build_policy("epsilon-greedy", {}), ConstantScorer())
    decided = InMemoryStore()
    impressions = []
    for i, raw in enumerate(_requests(n_impressions)):
        request = msgspec.json.decode(raw, type=DecisionRequest)
        decision = step_in_store(engine, decided, request, Source("r", 0, i)).decision
        assert decision is not None and decision.arm_id is not None
        impressions.append(
            Impression(
                schema_version=1,
                event_id=f"i{i}",
                ts=T0_MS + i,
                user_id=request.user_id,
                decision_id=decision.decision_id,
                arm_id=decision.arm_id,
            )
        )
    max_kept = engine.config.max_decisions_kept
    if n_impressions > N_USERS * max_kept:
        raise ValueError(f"at most {N_USERS * max_kept} impressions: decisions are forgotten")

    def run() -> int:
        store = InMemoryStore()
        for user in {e.user_id for e in impressions}:
            store.put_bytes(user, decided.get_bytes(user) or b"")
        for offset, event in enumerate(impressions):
            step_in_store(engine, store, event, Source("i", 0, offset))
        return len(impressions)

    return run
