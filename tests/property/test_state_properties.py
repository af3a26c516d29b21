"""Laws of the state value types, checked with hypothesis."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.bandit import build_policy
from model.engine import Engine, EngineConfig
from model.scoring import ConstantScorer
from state import (
    ArmStats,
    DecisionRecord,
    UserState,
    apply_decision,
    apply_impression,
    apply_reward,
    decay,
    decode_state,
    encode_state,
    mark_applied,
    merge,
)
from tests.fakes import Events, small_catalog

ARMS = st.sampled_from(["a:x", "b:x", "c:y"])
TIMES = st.integers(min_value=0, max_value=2**41)
# integer-valued counts add exactly in float64, so the merge laws can be checked exactly
COUNTS = st.integers(min_value=0, max_value=2**40).map(float)
STATS = st.builds(ArmStats, impressions=COUNTS, conversions=COUNTS, reward_sum=COUNTS,
                  last_seen_ms=TIMES)  # fmt: skip
FLOATS = st.floats(min_value=0, max_value=1e9, allow_nan=False)
ANY_STATS = st.builds(ArmStats, impressions=FLOATS, conversions=FLOATS, reward_sum=FLOATS,
                      last_seen_ms=TIMES)  # fmt: skip
RECORDS = st.builds(
    DecisionRecord, decision_id=st.text(max_size=8), request_id=st.text(max_size=8),
    ts_ms=TIMES, arm_id=st.none() | ARMS, propensity=st.floats(0.001, 1.0),
    explored=st.booleans(), policy=st.text(max_size=8), reason=st.none() | st.text(max_size=8),
    impressed_ms=st.none() | TIMES, converted=st.booleans(),
)  # fmt: skip
STATES = st.builds(
    UserState, arms=st.dictionaries(ARMS, ANY_STATS), offsets=st.dictionaries(st.text(), TIMES),
    decisions=st.lists(RECORDS, max_size=4).map(tuple),
    nudges_ms=st.lists(TIMES, max_size=4).map(tuple), last_purchase_ms=st.none() | TIMES,
)  # fmt: skip


@given(STATES)
def test_codec_round_trip(state: UserState) -> None:
    assert decode_state(encode_state(state)) == state


@given(STATS, STATS, STATS)
def test_merge_is_associative(a: ArmStats, b: ArmStats, c: ArmStats) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@given(ANY_STATS, ANY_STATS)
def test_merge_is_commutative_with_identity(a: ArmStats, b: ArmStats) -> None:
    assert merge(a, b) == merge(b, a)
    assert merge(a, ArmStats()) == a == merge(ArmStats(), a)


@given(ANY_STATS, ANY_STATS, ANY_STATS, st.floats(1, 1e7))
def test_decayed_merge_is_associative_up_to_rounding(
    a: ArmStats, b: ArmStats, c: ArmStats, half_life: float
) -> None:
    left = merge(merge(a, b, half_life), c, half_life)
    right = merge(a, merge(b, c, half_life), half_life)
    assert left.last_seen_ms == right.last_seen_ms
    for field in ("impressions", "conversions", "reward_sum"):
        assert getattr(left, field) == pytest.approx(getattr(right, field), rel=1e-9, abs=1e-6)


@given(ANY_STATS, TIMES, TIMES, st.floats(1, 1e7))
def test_decay_is_monotone_in_time(stats: ArmStats, t1: int, t2: int, half_life: float) -> None:
    early, late = decay(stats, min(t1, t2), half_life), decay(stats, max(t1, t2), half_life)
    for field in ("impressions", "conversions", "reward_sum"):
        assert 0 <= getattr(late, field) <= getattr(early, field) <= getattr(stats, field)


OPS = st.lists(
    st.tuples(st.sampled_from(["impression", "reward", "decision", "offset"]), ARMS, TIMES,
              st.floats(0, 1), st.booleans()),
    max_size=30,
)  # fmt: skip


@given(OPS)
def test_counts_and_offsets_never_decrease_without_decay(ops: list[tuple]) -> None:
    state = UserState()
    for op, arm, ts, reward, flag in ops:
        before = state
        if op == "impression":
            state = apply_impression(state, arm, ts)
        elif op == "reward":
            state = apply_reward(state, arm, reward, ts, converted=flag)
        elif op == "decision":
            record = DecisionRecord(decision_id=arm, request_id=arm, ts_ms=ts, arm_id=arm)
            state = apply_decision(state, record, 8)
        else:
            state = mark_applied(state, arm, ts % 1000)
        for arm_id, old in before.arms.items():
            new = state.arms[arm_id]
            assert new.impressions >= old.impressions and new.conversions >= old.conversions
            assert new.reward_sum >= old.reward_sum and new.last_seen_ms >= old.last_seen_ms
        assert all(state.offsets[k] >= v for k, v in before.offsets.items())


EVENTS = st.lists(
    st.tuples(st.sampled_from(["request", "impression", "conversion", "conversion-by-id"]),
              st.sampled_from(["purchase", "click", "dwell"]), st.integers(0, 3),
              st.integers(0, 3 * 24 * 3600)),
    max_size=40,
)  # fmt: skip


@settings(deadline=None, max_examples=60)
@given(EVENTS)
def test_conversions_never_exceed_what_attribution_allows(script: list[tuple]) -> None:
    """At most one conversion per decision that showed the arm, whatever the events."""
    engine = Engine(small_catalog(), build_policy("uniform"), ConstantScorer(), EngineConfig())
    events, state, decisions = Events(), UserState(), []
    for kind, conversion_kind, pick, delay in script:
        events.clock.advance(delay)
        if kind == "request":
            result = engine.step(state, events.request(), events.source("r"))
            if result.decision is not None and result.decision.arm_id is not None:
                decisions.append(result.decision)
        elif kind == "impression" and decisions:
            d = decisions[pick % len(decisions)]
            assert d.arm_id is not None
            shown = events.impression(d.decision_id, d.arm_id)
            result = engine.step(state, shown, events.source("i"))
        else:
            by_id = decisions and kind == "conversion-by-id"
            decision_id = decisions[pick % len(decisions)].decision_id if by_id else None
            event = events.conversion(conversion_kind, decision_id)
            result = engine.step(state, event, events.source("c"))
        state = result.state
    per_arm = Counter(d.arm_id for d in decisions)
    for arm_id, stats in state.arms.items():
        assert stats.conversions <= per_arm[arm_id]
    assert sum(r.converted for r in state.decisions) == sum(
        s.conversions for s in state.arms.values()
    )
