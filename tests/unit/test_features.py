"""FeatureSpec: fitting, encoding odd input without crashing, JSON round-trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.catalog import Arm, Product, Strategy, load_catalog
from model.features import FeatureSpec, FeatureSpecError, fit_spec
from state import ArmStats, UserState

CONTEXTS = [
    {"age": 30, "income": 50_000.0, "region": "north", "vip": True},
    {"age": 50, "income": 70_000.0, "region": "south", "vip": False},
    {"age": 40, "region": "north", "extra": None},
] * 5


@pytest.fixture
def spec() -> FeatureSpec:
    return fit_spec(CONTEXTS, load_catalog(), min_count=2)


def test_fit_separates_numbers_and_categories(spec: FeatureSpec) -> None:
    assert [n[0] for n in spec.numeric] == ["age", "income", "vip"]
    assert spec.categorical == (("region", ("north", "south")),)
    age = spec.numeric[0]
    assert age[1] == pytest.approx(40.0) and age[2] == pytest.approx(math.sqrt(200 / 3))


def test_user_vector_shape_and_missing_values(spec: FeatureSpec) -> None:
    full = spec.encode_user(CONTEXTS[0], UserState())
    odd = spec.encode_user(
        {"age": "old", "income": float("nan"), "region": "atlantis", "new_key": [1]},
        UserState(),
    )
    empty = spec.encode_user({}, UserState())
    for vector in (full, odd, empty):
        assert vector.shape == (spec.user_dim,) and vector.dtype == np.float32
        assert np.isfinite(vector).all()
    names = spec.user_names
    assert odd[names.index("age:missing")] == 1.0 and odd[names.index("age")] == 0.0
    assert odd[names.index("region=<other>")] == 1.0
    assert empty[names.index("region=<missing>")] == 1.0
    assert full[names.index("region=north")] == 1.0


def test_behaviour_aggregates_by_family(spec: FeatureSpec) -> None:
    state = UserState(arms={
        "savings_plan:loss_aversion": ArmStats(impressions=3, conversions=1),
        "gold_investment:gain_framing": ArmStats(impressions=1),
        "retired_product:unknown_strategy": ArmStats(impressions=4, conversions=2),
    })  # fmt: skip
    v = spec.encode_user({}, state)
    names = spec.user_names
    info = "history.decision_information"
    assert v[names.index(f"{info}:log_impressions")] == pytest.approx(math.log1p(4))
    assert v[names.index(f"{info}:log_conversions")] == pytest.approx(math.log1p(1))
    assert v[names.index(f"{info}:cr")] == pytest.approx((1 + 0.2) / (4 + 2))
    assert v[names.index("history.all:log_impressions")] == pytest.approx(math.log1p(8))


def test_unseen_arm_is_encoded_from_its_features(spec: FeatureSpec) -> None:
    new = Arm(
        Product("robo_advisor", "wealth", expected_return=0.09, risk_level=4),
        Strategy("streak_badge", "decision_assistance", gamified=True),
    )
    vector = spec.encode_arm(new)
    names = spec.arm_names
    assert vector.shape == (spec.arm_dim,)
    assert vector[names.index("product=<other>")] == 1.0
    assert vector[names.index("strategy=<other>")] == 1.0
    assert vector[names.index("category=<other>")] == 1.0
    assert vector[names.index("family=decision_assistance")] == 1.0
    assert vector[names.index("gamified")] == 1.0


def test_hidden_ids_match_an_unseen_arm(spec: FeatureSpec) -> None:
    arm = load_catalog().arms[0]
    hidden = spec.encode_arm(arm, hide_ids=True)
    assert hidden[spec.arm_names.index("product=<other>")] == 1.0
    assert (spec.encode_arms([arm]) != hidden).sum() == 4  # two id one-hots moved


def test_json_round_trip(spec: FeatureSpec) -> None:
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    context = CONTEXTS[1]
    assert np.array_equal(
        again.encode_user(context, UserState()), spec.encode_user(context, UserState())
    )


@pytest.mark.parametrize("text", ["{", "[]", '{"format": 99}', '{"format": 1, "numeric": 3}'])
def test_malformed_spec_is_rejected(text: str) -> None:
    with pytest.raises(FeatureSpecError):
        FeatureSpec.from_json(text)


def test_groups_cover_every_column(spec: FeatureSpec) -> None:
    for groups, dim in ((spec.user_groups(), spec.user_dim), (spec.arm_groups(), spec.arm_dim)):
        columns = sorted(c for cols in groups.values() for c in cols)
        assert columns == list(range(dim))
    assert {"age", "region", "history.social_appeal"} <= spec.user_groups().keys()
