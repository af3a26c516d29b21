"""Fast paths of the pure step give exactly the values of the general paths: Thompson's
memoised race of a user without evidence, and an impression's one-value state change."""

from __future__ import annotations

import numpy as np
import pytest

from model.bandit import PolicyContext, ThompsonSampling
from model.bandit.estimates import ArmArrays
from model.bandit.thompson import _evidence_free
from state import (
    ArmStats,
    DecisionRecord,
    UserState,
    apply_impression,
    decision_index,
    impress_decision,
    mark_applied,
    replace_decision,
)
from tests.fakes import stats_of

N_ARMS = 81
ARMS = [f"arm{i}:x" for i in range(N_ARMS)]


def _unseen(n: int) -> ArmArrays:
    zeros = np.zeros(n)
    return ArmArrays(zeros, zeros, zeros, seen=False)


@pytest.mark.parametrize("kind", ["constant", "model"])
def test_memoised_race_of_a_new_user_is_the_computed_one(kind: str) -> None:
    rng = np.random.default_rng(3)
    scores = np.full(N_ARMS, 0.1) if kind == "constant" else rng.beta(1.5, 20, N_ARMS)
    policy = ThompsonSampling()
    zeros = stats_of([0] * N_ARMS, [0] * N_ARMS)  # a plain list: never memoised
    for seed in range(10):
        memo = policy.choose(_unseen(N_ARMS), scores, ARMS, np.random.default_rng(seed))
        plain = policy.choose(zeros, scores, ARMS, np.random.default_rng(seed))
        assert memo == plain
    computed = policy.probabilities(zeros, scores, ARMS, np.random.default_rng(0))
    memoised = policy.probabilities(_unseen(N_ARMS), scores, ARMS, np.random.default_rng(0))
    np.testing.assert_array_equal(memoised, computed)


def test_memoised_arrays_are_read_only_and_probabilities_a_copy() -> None:
    policy = ThompsonSampling()
    scores = np.linspace(0.01, 0.3, N_ARMS)
    race = _evidence_free(policy, scores.tobytes())
    assert not any(array.flags.writeable for array in race)
    p = policy.probabilities(_unseen(N_ARMS), scores, ARMS, np.random.default_rng(0))
    p[0] = 5.0  # the caller's copy
    np.testing.assert_array_equal(
        policy.probabilities(_unseen(N_ARMS), scores, ARMS, np.random.default_rng(0))[1:],
        p[1:],
    )
    assert race.p[0] != 5.0


def test_pooled_statistics_are_never_memoised() -> None:
    policy = ThompsonSampling(population_weight=0.1)
    scores = np.full(N_ARMS, 0.1)
    population = stats_of([1_000] * N_ARMS, list(range(N_ARMS)))
    context = PolicyContext(population=population)
    rng = np.random.default_rng(0)
    pooled = policy.probabilities(_unseen(N_ARMS), scores, ARMS, rng, context=context)
    plain = policy.probabilities(_unseen(N_ARMS), scores, ARMS, rng)
    assert not np.allclose(pooled, plain)


def _state() -> UserState:
    decisions = tuple(
        DecisionRecord(
            decision_id=f"d{i}",
            request_id=f"r{i}",
            ts_ms=1_000 + i,
            arm_id=f"a{i % 3}",
            impressed_ms=1_000 + i if i % 2 else None,
        )
        for i in range(6)
    )
    arms = {"a0": ArmStats(impressions=2.0, conversions=1.0, last_seen_ms=500)}
    return UserState(arms=arms, offsets={"i/0": 3}, decisions=decisions)


@pytest.mark.parametrize("half_life_seconds", [None, 60.0])
@pytest.mark.parametrize("applied", [None, ("i/0", 9), ("i/1", 0), ("i/0", 1)])
def test_impress_decision_is_the_transitions_in_turn(
    half_life_seconds: float | None, applied: tuple[str, int] | None
) -> None:
    state = _state()
    for decision_id in ("d0", "d2", "d4"):
        index = decision_index(state, decision_id)
        record = state.decisions[index]
        assert record.arm_id is not None
        expected = apply_impression(
            state, record.arm_id, 90_000, half_life_seconds=half_life_seconds
        )
        impressed = DecisionRecord(**{**_fields(record), "impressed_ms": 90_000})
        expected = replace_decision(expected, impressed)
        if applied is not None:
            expected = mark_applied(expected, *applied)
        fast = impress_decision(
            state, index, 90_000, half_life_seconds=half_life_seconds, applied=applied
        )
        assert fast == expected


def test_decision_index_finds_kept_decisions_only() -> None:
    state = _state()
    assert [decision_index(state, f"d{i}") for i in range(6)] == list(range(6))
    assert decision_index(state, "d9") == -1
    assert decision_index(UserState(), "d0") == -1


def test_impress_decision_refuses_a_decision_without_an_arm() -> None:
    state = UserState(decisions=(DecisionRecord(decision_id="d", request_id="r", ts_ms=1),))
    with pytest.raises(ValueError, match="no arm"):
        impress_decision(state, 0, 2)


def _fields(record: DecisionRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__struct_fields__}
