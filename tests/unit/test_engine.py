"""The pure step: attribution, orphans, idempotency, guardrails and catalog change."""

from __future__ import annotations

import msgspec
import pytest

from model.bandit import build_policy
from model.engine import (
    ORPHAN_IMPRESSION,
    Engine,
    EngineConfig,
    Outcome,
    StepResult,
    decision_id_for,
)
from model.events import Event
from model.guardrails import Guardrails
from model.scoring import ConstantScorer
from state import ArmStats, UserState, decode_state, encode_state
from tests.fakes import Events, TableScorer, new_arm, small_catalog

REQ, IMP, CONV = "nudge.decision-requests", "nudge.impressions", "nudge.conversions"


def _engine(**config: object) -> Engine:
    policy = build_policy("thompson")
    return Engine(small_catalog(), policy, ConstantScorer(0.1), EngineConfig(**config))  # type: ignore[arg-type]


class User:
    """Drives one user's state through an engine, numbering offsets per topic."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.events, self.state = engine, Events(), UserState()

    def step(self, event: Event, topic: str) -> StepResult:
        result = self.engine.step(self.state, event, self.events.source(topic))
        self.state = decode_state(encode_state(result.state))  # as the store would
        return result

    def decide(self, **context: object) -> StepResult:
        return self.step(self.events.request(**context), REQ)

    def show(self, result: StepResult) -> StepResult:
        assert result.decision is not None and result.decision.arm_id is not None
        decision_id, arm_id = result.decision.decision_id, result.decision.arm_id
        return self.step(self.events.impression(decision_id, arm_id), IMP)

    def convert(self, kind: str = "purchase", decision_id: str | None = None) -> StepResult:
        return self.step(self.events.conversion(kind, decision_id), CONV)

    def arm(self, arm_id: str | None) -> ArmStats:
        assert arm_id is not None
        return self.state.arms.get(arm_id, ArmStats())


# -- attribution and reward -------------------------------------------------------------


def test_conversion_with_decision_id_is_credited_to_that_decision() -> None:
    user = User(_engine())
    first, second = user.decide(), user.decide()
    user.show(first), user.show(second)
    assert first.decision and second.decision
    assert user.convert("purchase", first.decision.decision_id).outcome is Outcome.APPLIED
    assert user.arm(first.decision.arm_id).conversions == 1
    assert user.arm(first.decision.arm_id).reward_sum == pytest.approx(1.0)


def test_conversion_without_decision_id_goes_to_the_latest_impression() -> None:
    user = User(_engine())
    first, second = user.decide(), user.decide()
    user.show(first)
    user.events.clock.advance(60)
    user.show(second)
    assert user.convert("click").outcome is Outcome.APPLIED
    assert second.decision is not None
    assert user.arm(second.decision.arm_id).reward_sum == pytest.approx(0.1)


def test_a_decision_converts_once_however_many_purchases() -> None:
    user = User(_engine())
    result = user.decide()
    user.show(result)
    assert result.decision is not None
    for _ in range(3):
        assert user.convert("purchase", result.decision.decision_id).outcome is Outcome.APPLIED
    assert user.arm(result.decision.arm_id).conversions == 1
    assert user.arm(result.decision.arm_id).reward_sum == pytest.approx(3.0)


@pytest.mark.parametrize("with_decision_id", [True, False])
def test_a_conversion_sent_again_at_a_new_offset_is_credited_once(with_decision_id: bool) -> None:
    """A repeated replay or a producer's retry re-sends an event under a new offset: its
    event_id, remembered on the decision, makes it a duplicate instead of a second reward."""
    user = User(_engine())
    result = user.decide()
    user.show(result)
    assert result.decision is not None
    decision_id = result.decision.decision_id if with_decision_id else None
    click = user.events.conversion("click", decision_id)
    purchase = user.events.conversion("purchase", decision_id)
    for event in (click, purchase):
        assert user.step(event, CONV).outcome is Outcome.APPLIED
    before = user.state
    for event in (click, purchase, click):
        again = user.step(event, CONV)  # new offsets, same events
        assert again.outcome is Outcome.DUPLICATE and again.reason == "already_credited"
    assert user.state.arms == before.arms
    assert user.arm(result.decision.arm_id).reward_sum == pytest.approx(1.1)
    assert user.arm(result.decision.arm_id).conversions == 1


@pytest.mark.parametrize(
    ("kind", "value", "reward"), [("dwell", 2.0, 0.4), ("purchase", 5.0, 1.0), ("click", -3, 0.0)]
)
def test_reward_is_the_weighted_value_clipped_to_the_documented_range(
    kind: str, value: float, reward: float
) -> None:
    user = User(_engine())
    result = user.decide()
    user.show(result)
    assert result.decision is not None
    event = user.events.conversion(kind, result.decision.decision_id, value=value)
    user.step(event, CONV)
    assert user.arm(result.decision.arm_id).reward_sum == pytest.approx(reward)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("nothing", "orphan_no_impression"),
        ("unknown", "orphan_unknown_decision"),
        ("late", "orphan_outside_window"),
        ("blocked", "orphan_no_nudge"),
    ],
)
def test_orphan_conversions_are_returned_with_a_reason(setup: str, reason: str) -> None:
    user = User(_engine(guardrails=Guardrails(max_nudges=1)))
    decision_id = None
    if setup == "unknown":
        decision_id = "d-nope"
    if setup == "late":
        user.show(user.decide())
        user.events.clock.advance(8 * 24 * 3600)
    if setup == "blocked":
        user.decide()
        blocked = user.decide()
        assert blocked.decision is not None and blocked.decision.arm_id is None
        decision_id = blocked.decision.decision_id
    before = user.state.arms
    result = user.convert("click", decision_id)
    assert (result.outcome, result.reason) == (Outcome.ORPHAN, reason)
    assert user.state.arms == before


def test_unknown_kind_and_non_finite_value_are_rejected() -> None:
    user = User(_engine())
    assert user.convert("signup").reason == "unknown_conversion_kind"
    event = user.events.conversion("click", value=float("nan"))
    assert user.step(event, CONV).reason == "invalid_value"


# -- idempotency --------------------------------------------------------------------------


def test_redelivered_events_change_nothing_and_requests_get_the_same_decision() -> None:
    engine = _engine()
    events = Events()
    request = events.request()
    source = events.source(REQ)
    first = engine.step(UserState(), request, source)
    again = engine.step(first.state, request, source)
    assert again.outcome is Outcome.DUPLICATE and again.state == first.state
    assert again.decision == first.decision
    assert first.decision is not None and first.decision.arm_id is not None
    impression = events.impression(first.decision.decision_id, first.decision.arm_id)
    imp_source = events.source(IMP)
    shown = engine.step(first.state, impression, imp_source)
    assert engine.step(shown.state, impression, imp_source).state == shown.state


def test_a_request_retried_under_a_new_offset_gets_the_stored_decision() -> None:
    user = User(_engine())
    request = user.events.request()
    first = user.step(request, REQ)
    user.decide()  # the state moves on
    retried = user.step(request, REQ)
    assert retried.outcome is Outcome.DUPLICATE and retried.decision == first.decision


def test_an_impression_is_counted_once_per_decision() -> None:
    user = User(_engine())
    result = user.decide()
    user.show(result)
    assert user.show(result).outcome is Outcome.DUPLICATE
    assert result.decision is not None
    assert user.arm(result.decision.arm_id).impressions == 1


def test_an_impression_of_a_decision_the_user_never_got_is_an_orphan() -> None:
    user = User(_engine())
    arm = small_catalog().arm_ids[0]
    outcomes = [user.step(user.events.impression("d-never-made", arm), IMP) for _ in range(3)]
    assert [r.outcome for r in outcomes] == [Outcome.ORPHAN] * 3
    assert {r.reason for r in outcomes} == {ORPHAN_IMPRESSION}
    assert user.arm(arm).impressions == 0  # three such impressions used to count as 3.0


def test_decision_id_is_deterministic_from_the_request() -> None:
    assert decision_id_for("req-1") == decision_id_for("req-1") != decision_id_for("req-2")


# -- guardrails -----------------------------------------------------------------------------


def test_frequency_cap_yields_no_nudge_with_the_reason() -> None:
    user = User(_engine(guardrails=Guardrails(max_nudges=2, window_seconds=24 * 3600)))
    assert all(user.decide().decision.arm_id for _ in range(2))  # type: ignore[union-attr]
    capped = user.decide()
    assert capped.decision is not None
    assert (capped.decision.arm_id, capped.decision.reason) == (None, "frequency_cap")
    assert capped.reason == "frequency_cap"
    user.events.clock.advance(24 * 3600)
    assert user.decide().decision.arm_id is not None  # type: ignore[union-attr]


def test_cooldown_after_a_purchase_even_an_orphan_one() -> None:
    user = User(_engine(guardrails=Guardrails(cooldown_seconds=3600)))
    assert user.convert("purchase").outcome is Outcome.ORPHAN
    assert user.decide().reason == "cooldown"
    user.events.clock.advance(3601)
    assert user.decide().reason is None


def test_suitability_never_offers_products_above_the_users_risk_tolerance() -> None:
    user = User(_engine())
    catalog = small_catalog()
    for _ in range(30):
        decision = user.decide(risk_tolerance="low").decision
        assert decision is not None and decision.arm_id is not None
        assert catalog.arm(decision.arm_id).product.risk_level <= 2


def test_no_eligible_arm_yields_no_nudge() -> None:
    user = User(_engine())
    result = user.decide(risk_tolerance=1, candidates=["loan:default", "fund:peers"])
    assert result.decision is not None
    assert (result.decision.arm_id, result.reason) == (None, "no_eligible_arm")


def test_unknown_candidates_are_rejected() -> None:
    user = User(_engine())
    assert user.decide(candidates=["nope:nope"]).reason == "unknown_arm"


# -- catalog change, model, decay -----------------------------------------------------------


def test_a_new_arm_is_served_from_the_next_decision_with_the_model_prior() -> None:
    arm = new_arm()
    scorer = TableScorer({arm.arm_id: 0.9}, default=0.01)
    engine = Engine(small_catalog(), build_policy("thompson"), scorer)
    user = User(engine.with_catalog(engine.catalog.with_arms([arm])))
    result = user.decide()
    assert result.decision is not None and result.decision.arm_id == arm.arm_id
    assert result.decision.model_version == "table-v1"


def test_a_retired_arm_is_never_chosen_and_its_stats_are_kept() -> None:
    user = User(_engine())
    for _ in range(5):
        user.show(user.decide())
    stats_before = dict(user.state.arms)
    retired = next(iter(stats_before))
    user.engine = user.engine.with_catalog(user.engine.catalog.with_retired([retired]))
    for _ in range(40):
        decision = user.decide(candidates=[retired, "savings:peers"]).decision
        assert decision is not None and decision.arm_id == "savings:peers"
    assert user.state.arms[retired] == stats_before[retired]


def test_half_life_decays_old_evidence_before_adding_new() -> None:
    user = User(_engine(half_life_seconds=3600))
    result = user.decide(candidates=["savings:default"])
    user.show(result)
    user.events.clock.advance(3600)
    user.show(user.decide(candidates=["savings:default"]))
    assert user.arm("savings:default").impressions == pytest.approx(1.5)


def test_policy_sees_population_and_served_sub_policy_is_logged() -> None:
    population = {"savings:default": ArmStats(impressions=1000, conversions=400)}
    engine = Engine(
        small_catalog(),
        build_policy("randomized-slice", {"share": 1.0}),
        ConstantScorer(0.01),
    ).with_population(population)
    user = User(engine)
    decision = user.decide().decision
    assert decision is not None and decision.policy == "uniform-slice"
    assert decision.propensity == pytest.approx(1 / 6)


def test_results_round_trip_through_the_wire_types() -> None:
    result = User(_engine()).decide()
    assert result.decision is not None
    assert msgspec.json.decode(msgspec.json.encode(result.decision), type=type(result.decision))
