"""Guardrails as pure functions of (settings, state, context)."""

from __future__ import annotations

import pytest

from model.guardrails import (
    ExclusionRule,
    GuardrailConfigError,
    Guardrails,
    eligible_arms,
    risk_tolerance,
    screen,
    user_block,
)
from state import UserState
from tests.fakes import HOUR_MS, T0_MS, small_catalog

CATALOG = small_catalog()
ALL = list(CATALOG.arm_ids)


@pytest.mark.parametrize(
    ("value", "limit"),
    [(3, 3.0), (2.5, 2.5), ("low", 2.0), ("HIGH", 4.0), ("very_high", 5.0), (None, 1.0),
     ("unheard-of", 1.0), (True, 1.0)],
)  # fmt: skip
def test_risk_tolerance_mapping(value: object, limit: float) -> None:
    assert risk_tolerance(Guardrails(), {"risk_tolerance": value}) == limit


def test_unknown_tolerance_can_be_left_unrestricted() -> None:
    assert risk_tolerance(Guardrails(unknown_risk_tolerance=None), {}) is None
    assert eligible_arms(Guardrails(unknown_risk_tolerance=None), CATALOG, ALL, {}) == tuple(ALL)


def test_suitability_keeps_products_at_or_below_the_tolerance() -> None:
    kept = eligible_arms(Guardrails(), CATALOG, ALL, {"risk_tolerance": 3})
    assert {CATALOG.arm(a).product.product_id for a in kept} == {"savings", "fund"}


def test_exclusion_rules_from_settings() -> None:
    guardrails = Guardrails.from_mapping(
        {"exclusions": [{"feature": "age", "op": "<", "value": 19, "categories": ["credit"]}]}
    )
    young = eligible_arms(guardrails, CATALOG, ALL, {"risk_tolerance": 5, "age": 17})
    adult = eligible_arms(guardrails, CATALOG, ALL, {"risk_tolerance": 5, "age": 30})
    assert all(not a.startswith("loan") for a in young) and len(adult) == 6
    no_age = eligible_arms(guardrails, CATALOG, ALL, {"risk_tolerance": 5})
    assert len(no_age) == 6  # a comparison on a missing feature matches nobody


def test_missing_rule_excludes_when_the_feature_is_absent() -> None:
    rule = ExclusionRule("income", "missing", families=frozenset({"social_appeal"}))
    kept = eligible_arms(Guardrails(exclusions=(rule,)), CATALOG, ALL, {"risk_tolerance": 5})
    assert all(not a.endswith(":peers") for a in kept)


def test_frequency_cap_counts_nudges_in_the_rolling_window() -> None:
    guardrails = Guardrails(max_nudges=2, window_seconds=3600)
    state = UserState(nudges_ms=(T0_MS - 2 * HOUR_MS, T0_MS - 10, T0_MS - 5))
    assert user_block(guardrails, state, T0_MS) == "frequency_cap"
    assert user_block(guardrails, state, T0_MS + HOUR_MS) is None


def test_cooldown_wins_over_the_cap_and_ends_on_time() -> None:
    guardrails = Guardrails(max_nudges=0, cooldown_seconds=60)
    state = UserState(last_purchase_ms=T0_MS)
    assert user_block(guardrails, state, T0_MS + 59_999) == "cooldown"
    assert user_block(guardrails, state, T0_MS + 60_000) == "frequency_cap"


def test_screen_gives_a_reason_whenever_nothing_is_left() -> None:
    result = screen(
        Guardrails(), CATALOG, UserState(), {"risk_tolerance": 1}, ["loan:peers"], T0_MS
    )
    assert (result.candidates, result.reason) == ((), "no_eligible_arm")
    ok = screen(Guardrails(), CATALOG, UserState(), {"risk_tolerance": 1}, ALL, T0_MS)
    assert ok.reason is None and ok.candidates == ("savings:default", "savings:peers")


@pytest.mark.parametrize(
    "params",
    [{"max_nudges": -1}, {"window_seconds": 0}, {"cooldown_seconds": -5},
     {"risk_levels": {"low": 9}}, {"colour": "red"},
     {"exclusions": [{"feature": "age", "op": "~", "value": 1, "products": ["loan"]}]},
     {"exclusions": [{"feature": "age", "op": "<", "value": 1}]}],
)  # fmt: skip
def test_invalid_settings_are_rejected(params: dict[str, object]) -> None:
    with pytest.raises(GuardrailConfigError):
        Guardrails.from_mapping(params)
