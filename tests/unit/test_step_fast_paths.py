"""Fast paths of the pure step give exactly the values of the general paths: Thompson's
memoised race and epsilon-greedy's memoised greedy set of a user without evidence, an
impression's one-value state change, and the edge's count of JSON key ends."""

from __future__ import annotations

import numpy as np
import pytest

from model.bandit import (
    EpsilonGreedy,
    HashDraws,
    PolicyContext,
    ThompsonSampling,
    build_policy,
    epsilon_greedy,
)
from model.bandit.estimates import ArmArrays
from model.bandit.thompson import _evidence_free
from model.engine import Engine, Outcome, Source, StepResult
from model.events import Conversion, DecisionRequest, Event, Impression
from model.scoring import ConstantScorer
from state import (
    ArmStats,
    DecisionRecord,
    UserState,
    apply_decision,
    apply_impression,
    decision_index,
    encode_state,
    impress_decision,
    mark_applied,
    replace_decision,
)
from streams.runtime.schemas import _KEY_END, key_ends
from tests.fakes import Events, small_catalog, stats_of

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


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        ("constant", EpsilonGreedy()),
        ("model", EpsilonGreedy()),
        ("ties", EpsilonGreedy(epsilon=0.3, prior_strength=3.0)),
        ("out-of-range", EpsilonGreedy(epsilon=0.0, target="reward")),
        ("model", EpsilonGreedy(epsilon=1.0, prior_strength=7)),
    ],
)
def test_epsilon_greedy_memoised_choice_of_a_new_user_is_the_computed_one(
    kind: str, policy: EpsilonGreedy
) -> None:
    rng = np.random.default_rng(5)
    scores = {
        "constant": np.full(N_ARMS, 0.1),
        "model": rng.beta(1.5, 20, N_ARMS),
        "ties": np.round(rng.uniform(0, 0.2, N_ARMS), 2),
        "out-of-range": rng.uniform(-0.5, 1.5, N_ARMS),  # clipped to [0, 1] alike
    }[kind]
    zeros = stats_of([0] * N_ARMS, [0] * N_ARMS)  # a plain list: never memoised
    for seed in range(40):
        key = f"r{seed}".encode()
        memo = policy.choose(_unseen(N_ARMS), scores, ARMS, HashDraws(key))
        plain = policy.choose(zeros, scores, ARMS, HashDraws(key))
        assert memo == plain
        assert type(memo.index) is int and type(memo.propensity) is float
        generated = policy.choose(_unseen(N_ARMS), scores, ARMS, np.random.default_rng(seed))
        assert generated == policy.choose(zeros, scores, ARMS, np.random.default_rng(seed))
    as_list = policy.choose(_unseen(N_ARMS), scores.tolist(), ARMS, HashDraws(b"r0"))
    assert as_list == policy.choose(zeros, scores, ARMS, HashDraws(b"r0"))


def test_epsilon_greedy_memoises_only_scores_it_accepts() -> None:
    policy = EpsilonGreedy()
    epsilon_greedy._evidence_free.cache_clear()
    scores = np.full(N_ARMS, 0.1)
    scores[3] = np.nan
    for _ in range(2):  # refused every time: a refusal is never kept
        with pytest.raises(ValueError, match="finite"):
            policy.choose(_unseen(N_ARMS), scores, ARMS, HashDraws(b"r"))
    with pytest.raises(ValueError, match="align"):
        policy.choose(_unseen(N_ARMS), np.full(N_ARMS - 1, 0.1), ARMS, HashDraws(b"r"))
    with pytest.raises(ValueError, match="no candidates"):
        policy.choose(_unseen(0), np.zeros(0), [], HashDraws(b"r"))
    assert epsilon_greedy._evidence_free.cache_info().currsize == 0
    policy.choose(_unseen(N_ARMS), np.full(N_ARMS, 0.1), ARMS, HashDraws(b"r"))
    policy.choose(_unseen(N_ARMS), np.full(N_ARMS, 0.1), ARMS, HashDraws(b"s"))
    assert epsilon_greedy._evidence_free.cache_info().currsize == 1


def test_epsilon_greedy_user_with_evidence_is_not_memoised() -> None:
    policy = EpsilonGreedy(epsilon=0.0)
    epsilon_greedy._evidence_free.cache_clear()
    stats = _unseen(N_ARMS)
    seen = ArmArrays(stats.impressions.copy(), stats.conversions.copy(), stats.reward_sum)
    seen.impressions[7], seen.conversions[7] = 2.0, 2.0  # arm 7 now leads
    choice = policy.choose(seen, np.full(N_ARMS, 0.1), ARMS, HashDraws(b"r"))
    assert choice.index == 7 and choice.propensity == 1.0
    assert epsilon_greedy._evidence_free.cache_info().currsize == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"b":{"c":2}}',
        b'{"a" :1, "b"\t\n: {"c"\r:2},"d":"x\\" : y"}',
        b'{"a":"\\":", "b": "\x0b", "c"\x0b:1, "d"\x0c\x0c :2}',
        b'""::"":  :""": ',
        b"",
    ],
)
def test_key_ends_counts_what_the_pattern_finds(raw: bytes) -> None:
    assert key_ends(raw) == len(_KEY_END.findall(raw))


def test_key_ends_counts_what_the_pattern_finds_in_random_bytes() -> None:
    rng = np.random.default_rng(11)
    alphabet = np.frombuffer(b' \t\n\r\x0b\x0c":a{}', dtype=np.uint8)
    for _ in range(2_000):
        raw = rng.choice(alphabet, rng.integers(0, 40)).tobytes()
        assert key_ends(raw) == len(_KEY_END.findall(raw)), raw


@pytest.mark.parametrize("max_kept", [1, 3, 64])
@pytest.mark.parametrize("applied", [None, ("r/0", 9), ("r/1", 0), ("i/0", 1)])
@pytest.mark.parametrize("arm_id", [None, "a1"])
def test_apply_decision_is_the_transitions_in_turn(
    max_kept: int, applied: tuple[str, int] | None, arm_id: str | None
) -> None:
    state = _state()
    record = DecisionRecord(decision_id="d9", request_id="r9", ts_ms=5_000, arm_id=arm_id)
    expected = apply_decision(state, record, max_kept)
    if applied is not None:
        expected = mark_applied(expected, *applied)
    fast = apply_decision(state, record, max_kept, applied=applied)
    assert fast == expected
    assert encode_state(fast) == encode_state(expected)  # the same bytes: keys in order


def _reference_step(engine: Engine, state: UserState, event: Event, source: Source) -> StepResult:
    """The sourced step as the transitions in turn: the step without a source, then the
    offset marked (unless the event was refused)."""
    result = engine.step(state, event)
    if result.outcome is Outcome.REJECTED:
        return result
    applied = mark_applied(result.state, source.key, source.offset)
    return StepResult(applied, result.outcome, result.decision, result.reason, result.arm_id)


@pytest.mark.parametrize("policy", ["epsilon-greedy", "thompson"])
def test_a_sourced_step_marks_its_offset_as_the_transitions_in_turn(policy: str) -> None:
    engine = Engine(small_catalog(), build_policy(policy), ConstantScorer(0.1))
    events, state = Events(), UserState()
    seen: list[tuple[Event, Source]] = []
    for round_ in range(12):
        request = events.request()
        source = events.source("req")
        steps: list[tuple[Event, Source]] = [(request, source)]
        result = engine.step(state, request, source)
        expected = _reference_step(engine, state, request, source)
        assert result == expected and encode_state(result.state) == encode_state(expected.state)
        state = result.state
        decision = result.decision
        assert decision is not None
        if decision.arm_id is not None:
            steps.append((events.impression(decision.decision_id, decision.arm_id), None))  # type: ignore[list-item]
        if round_ % 3 == 0:
            steps.append((events.conversion(decision_id=decision.decision_id), None))  # type: ignore[list-item]
        if round_ % 4 == 1:  # a producer retry of the request at a new offset
            steps.append((request, None))  # type: ignore[list-item]
        for event, given in steps[1:]:
            topic = {Impression: "imp", Conversion: "conv", DecisionRequest: "req"}[type(event)]
            source = given or events.source(topic)
            seen.append((event, source))
            result = engine.step(state, event, source)
            expected = _reference_step(engine, state, event, source)
            assert result == expected
            assert encode_state(result.state) == encode_state(expected.state)
            state = result.state
        events.clock.advance(3_600)
    for event, source in seen[::3]:  # redeliveries change nothing
        assert engine.step(state, event, source).state is state
