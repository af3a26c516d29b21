"""Time per decision through the real pure step (``Engine`` + ``step_in_store`` +
``InMemoryStore``) with the benchmark's scorer: a decision request, its impression and,
when it converts, the conversion, for users of the 81-arm world. Reported per request
(the whole round: decide plus learn), in microseconds; the learning loop's own
``us_per_decision`` times only the policy and scorer."""

from __future__ import annotations

import time
from typing import Any

from bench.learning.history import draw_history, examples_of, train_two_tower
from bench.learning.world import build_world
from model.bandit import build_policy
from model.engine import Engine, Source
from model.events import Conversion, DecisionRequest, Impression
from model.loop import step_in_store
from state import InMemoryStore

__all__ = ["ENGINE_POLICIES", "engine_timing"]

T0_MS = 1_760_000_000_000
ENGINE_POLICIES: dict[str, tuple[str, dict[str, Any]]] = {
    "thompson (default)": ("thompson", {}),
    "epsilon-greedy 0.05": ("epsilon-greedy", {"epsilon": 0.05}),
    "ucb-model": ("ucb-model", {}),
}


def engine_timing(sizes: Any, n_requests: int) -> dict[str, float]:
    world = build_world(0, 81, sizes.n_users, n_requests)
    scorer = train_two_tower(examples_of(draw_history(world, 10_000, 2_000)), world.env.catalog)
    out = {}
    for label, (name, params) in ENGINE_POLICIES.items():
        engine = Engine(world.env.catalog, build_policy(name, params), scorer)
        out[label] = round(_rounds(engine, world), 1)
    return out


def _rounds(engine: Engine, world: Any) -> float:
    store = InMemoryStore()
    began = time.perf_counter()
    for t, user in enumerate(world.users.tolist()):
        uid, ts = world.env.user_id(user), T0_MS + 10 * t
        request = DecisionRequest(
            schema_version=1, event_id=f"r{t}", ts=ts, user_id=uid, context=world.contexts[user]
        )
        decision = step_in_store(engine, store, request, Source("r", 0, t)).decision
        if decision is None or decision.arm_id is None:
            continue
        impression = Impression(
            schema_version=1,
            event_id=f"i{t}",
            ts=ts + 1,
            user_id=uid,
            decision_id=decision.decision_id,
            arm_id=decision.arm_id,
        )
        step_in_store(engine, store, impression, Source("i", 0, t))
        arm = world.env.catalog.index(decision.arm_id)
        if world.reward_draws[t] < world.truth[user, arm]:
            conversion = Conversion(
                schema_version=1,
                event_id=f"c{t}",
                ts=ts + 2,
                user_id=uid,
                kind="purchase",
                decision_id=decision.decision_id,
            )
            step_in_store(engine, store, conversion, Source("c", 0, t))
    return 1e6 * (time.perf_counter() - began) / max(world.n_rounds, 1)
