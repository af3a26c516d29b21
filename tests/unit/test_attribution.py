"""One attribution rule: serving (the engine over the log), training (the dataset) and
evaluation (the feedback) give every decision the same label and reward."""

from __future__ import annotations

import msgspec
import numpy as np

from model.attribution import AttributionRule
from model.bandit import build_policy
from model.engine import Engine, EngineConfig
from model.evaluation import feedback_from_events
from model.events import Conversion, Decision, DecisionRequest, Impression, LogEvent
from model.guardrails import Guardrails
from model.reward import event_reward
from model.scoring import ConstantScorer
from model.simulator import Environment, UniformLogging, rounds_to_events, simulate_rounds
from model.twotower.dataset import build_examples
from state import UserState

CONFIG = EngineConfig(
    reward_weights={"click": 0.3, "dwell": 0.2, "purchase": 1.0},
    attribution_window_seconds=2 * 3600,
    half_life_seconds=6 * 3600,
    guardrails=Guardrails(suitability=False),
)


def _log() -> list[LogEvent]:
    """A simulated log whose requests offer only the logged arm (so the engine decides
    as the log did), plus clicks without a decision id, some outside the window, and
    a conversion kind without a weight."""
    env = Environment.build(60, seed=4)
    rounds = simulate_rounds(env, UniformLogging(), 600, seed=4, days=2.0)
    events = list(rounds_to_events(env, rounds))
    arm_of = {e.request_id: e.arm_id for e in events if isinstance(e, Decision)}
    rng = np.random.default_rng(5)
    out: list[LogEvent] = []
    for k, e in enumerate(events):
        if isinstance(e, DecisionRequest):
            e = msgspec.structs.replace(e, candidates=[arm_of[e.event_id]])
        out.append(e)
        if isinstance(e, Impression) and rng.random() < 0.4:
            late = int(rng.exponential(2 * 3600 * 1000))
            kind = "click" if rng.random() < 0.9 else "share"
            out.append(
                Conversion(
                    schema_version=1,
                    event_id=f"click-{k}",
                    ts=e.ts + late,
                    user_id=e.user_id,
                    kind=kind,
                    value=float(rng.integers(1, 4)),
                )
            )
    return sorted(out, key=lambda e: (e.ts, _ORDER[type(e)]))


_ORDER = {DecisionRequest: 0, Decision: 1, Impression: 2, Conversion: 3}


def _serve(events: list[LogEvent]) -> tuple[dict[str, tuple[bool, float]], dict[str, UserState]]:
    """Per decision ``(converted, reward)`` as the engine credits them, and each user's
    state just before each of its requests (by decision id)."""
    engine = Engine(CONFIG_CATALOG, build_policy("uniform"), ConstantScorer(), CONFIG)
    states: dict[str, UserState] = {}
    before: dict[str, UserState] = {}
    rewards = {
        e.event_id: event_reward(CONFIG.reward_weights[e.kind], e.value, CONFIG.reward_cap)
        for e in events
        if isinstance(e, Conversion) and e.kind in CONFIG.reward_weights
    }
    for event in events:
        if isinstance(event, Decision):
            continue
        state = states.get(event.user_id, UserState())
        result = engine.step(state, event)
        if result.decision is not None:
            assert result.decision.arm_id == (event.candidates or [None])[0]
            before[result.decision.decision_id] = state
        states[event.user_id] = result.state
    credited = {
        r.decision_id: (r.converted, sum(rewards[c] or 0.0 for c in r.credited))
        for s in states.values()
        for r in s.decisions
    }
    return credited, before


CONFIG_CATALOG = Environment.build(60, seed=4).catalog


def test_serving_training_and_evaluation_agree_on_every_decision() -> None:
    events = _log()
    served, before = _serve(events)
    rule = AttributionRule.of(CONFIG)
    examples = {e.decision_id: e for e in build_examples(events, rule=rule)}
    fb = feedback_from_events(events, rule=rule)
    evaluated = dict(zip(fb.decision_ids.tolist(), fb.reward.tolist(), strict=True))
    assert len(served) == len(examples) == len(evaluated) == 600
    assert sum(c for c, _ in served.values()) > 10
    assert sum(r > 0 for _, r in served.values()) > sum(c for c, _ in served.values())
    for decision_id, (converted, reward) in served.items():
        assert examples[decision_id].label == int(converted), decision_id
        assert examples[decision_id].reward == reward, decision_id
        assert evaluated[decision_id] == reward, decision_id
        assert examples[decision_id].state.arms == before[decision_id].arms, decision_id
