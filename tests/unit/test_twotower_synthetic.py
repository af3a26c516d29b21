"""Seeded synthetic event logs for the two-tower tests (and the checks of the generator).

Two worlds, each a ground-truth conversion rate per (user, arm):
- :func:`preference_log`: the built-in catalog; conversion depends on observed user
  features (risk tolerance vs product risk, income x investment, age x insurance, a
  framing preference) -- a model can learn it from the context.
- :func:`confounded_log`: the trap of the source post. Users belong to a hidden group
  (high or low converting) that no feature reveals. Strategy B beats A for every user,
  but the logging policy showed A mostly to the high group and B mostly to the low
  group; a small uniformly randomized slice shows A or B with probability 1/2 each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.catalog import Arm, Catalog, Product, Strategy, load_catalog
from model.events import Conversion, Decision, DecisionRequest, Impression, LogEvent

__all__ = ["CONFOUNDED_RATES", "confounded_catalog", "confounded_log", "preference_log"]

REGIONS = ("north", "south", "east", "west")
# True conversion rates of the confounded world: group -> strategy -> rate. B wins in both.
CONFOUNDED_RATES = {"high": {"A": 0.30, "B": 0.40}, "low": {"A": 0.04, "B": 0.08}}


@dataclass
class _Log:
    events: list[LogEvent]
    ts: int = 1_700_000_000_000

    def decision(
        self, user: str, context: dict, arm: Arm, converted: bool, propensity: float, policy: str
    ) -> None:
        self.ts += 1000
        n = len(self.events)
        request_id, decision_id = f"r{n}", f"d{n}"
        common = {"schema_version": 1, "user_id": user}
        self.events += [
            DecisionRequest(**common, event_id=request_id, ts=self.ts, context=context),
            Decision(
                **common, event_id=decision_id, ts=self.ts, decision_id=decision_id,
                request_id=request_id, arm_id=arm.arm_id, product_id=arm.product.product_id,
                strategy_id=arm.strategy.strategy_id, propensity=propensity, explored=False,
                policy=policy, model_version="none", score=0.0,
            ),
            Impression(**common, event_id=f"i{n}", ts=self.ts + 10, decision_id=decision_id,
                       arm_id=arm.arm_id),
        ]  # fmt: skip
        if converted:
            self.events.append(
                Conversion(**common, event_id=f"c{n}", ts=self.ts + 500, kind="purchase")
            )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def preference_rate(context: dict, arm: Arm) -> float:
    """Ground truth of the preference world."""
    p, s = arm.product, arm.strategy
    logit = -2.0 - 0.45 * abs(p.risk_level - context["risk_tolerance"])
    logit += 0.8 * context["income_z"] * (p.category == "investment")
    logit += 0.9 * (context["age"] > 50) * (p.category == "insurance")
    logit += 0.5 * (s.framing == "loss") * (context["age"] > 50) - 0.3 * s.urgency * (
        context["age"] <= 30
    )
    logit += 0.4 * s.social_proof * (context["region"] in ("north", "east"))
    return _sigmoid(logit)


def _preference_user(rng: np.random.Generator) -> dict:
    income_z = float(rng.normal())
    return {
        "age": int(rng.integers(20, 75)),
        "income": round(40_000 * math.exp(0.4 * income_z), 2),
        "income_z": income_z,
        "risk_tolerance": int(rng.integers(1, 6)),
        "region": str(rng.choice(REGIONS)),
        "favourite_colour": str(rng.choice(["red", "blue"])),  # unknown to the truth
    }


def preference_log(
    users: int, decisions_per_user: int, seed: int, catalog: Catalog | None = None
) -> list[LogEvent]:
    """A uniformly randomized log (policy ``uniform``) of the preference world."""
    catalog = catalog or load_catalog()
    rng = np.random.default_rng(seed)
    log = _Log([])
    arms = catalog.arms
    for u in range(users):
        context = _preference_user(rng)
        for _ in range(decisions_per_user):
            arm = arms[int(rng.integers(len(arms)))]
            converted = bool(rng.random() < preference_rate(context, arm))
            log.decision(f"u{seed}-{u}", context, arm, converted, 1 / len(arms), "uniform")
    return log.events


def confounded_catalog(products: int = 8) -> Catalog:
    """``products`` products, each with strategy A (gain framing) and B (loss framing)."""
    a = Strategy("A", "decision_information", framing="gain")
    b = Strategy("B", "decision_information", framing="loss", urgency=1)
    categories = ("savings", "investment", "insurance", "credit")
    items = [
        Product(f"p{i}", categories[i % 4], expected_return=0.01 * i, risk_level=1 + i % 5)
        for i in range(products)
    ]
    return Catalog(tuple(Arm(p, s) for p in items for s in (a, b)))


def confounded_log(
    confounded: int, randomized: int, seed: int, catalog: Catalog | None = None
) -> list[LogEvent]:
    """``confounded`` exposures where the high group sees A with probability 0.9 and the
    low group sees B with probability 0.9, then ``randomized`` uniform-slice exposures.
    One decision per user, so no behavioural history can reveal the hidden group."""
    catalog = catalog or confounded_catalog()
    rng = np.random.default_rng(seed)
    log = _Log([])
    products = sorted({a.product.product_id for a in catalog.arms})
    for n in range(confounded + randomized):
        group = "high" if rng.random() < 0.5 else "low"
        if n < confounded:
            favoured = "A" if group == "high" else "B"
            other = "B" if favoured == "A" else "A"
            strategy, propensity = (favoured, 0.9) if rng.random() < 0.9 else (other, 0.1)
            policy = "rule-based"
        else:
            strategy, propensity, policy = (
                ("A" if rng.random() < 0.5 else "B"),
                0.5,
                "uniform-slice",
            )
        arm = catalog.arm(f"{products[int(rng.integers(len(products)))]}:{strategy}")
        context = {"age": int(rng.integers(20, 75)), "region": str(rng.choice(REGIONS))}
        converted = bool(rng.random() < CONFOUNDED_RATES[group][strategy])
        log.decision(f"c{seed}-{n}", context, arm, converted, propensity, policy)
    return log.events


# -- checks of the generator itself ---------------------------------------------------------


def test_logs_are_deterministic_for_a_seed() -> None:
    assert preference_log(5, 3, seed=1) == preference_log(5, 3, seed=1)
    assert confounded_log(20, 10, seed=2) == confounded_log(20, 10, seed=2)


def test_confounded_log_shows_the_trap_in_raw_rates() -> None:
    """In the confounded part, A's raw conversion rate beats B's, although B is better
    for every group. Expected raw rates: A 0.9*0.30+0.1*0.04 = 0.274 (high group sees A
    90% of the time), B 0.1*0.40+0.9*0.08 = 0.112; with ~2,000 exposures per strategy
    the standard error of each rate is < 0.011, so a 0.16 gap cannot flip by chance."""
    events = confounded_log(4000, 0, seed=3)
    shown = {e.decision_id: e.strategy_id for e in events if isinstance(e, Decision)}
    converted = {f"d{e.event_id[1:]}" for e in events if isinstance(e, Conversion)}
    rates = {}
    for strategy in ("A", "B"):
        ids = [d for d, s in shown.items() if s == strategy]
        rates[strategy] = sum(d in converted for d in ids) / len(ids)
    assert rates["A"] - rates["B"] > 0.1
