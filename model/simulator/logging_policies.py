"""Policies that generated the historical logs: rule-based, uniform ("shuffle"), confounded.

Each has ``name``, ``action_dist(env, users) -> (n, n_arms)`` (the probability of each
arm per user; rows sum to 1) and ``choose(env, users, rng) -> (arms (n,), pscore (n,))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from model.simulator.environment import Environment
from model.simulator.population import segment_name
from model.simulator.truth import hash_normal

__all__ = [
    "LOGGING_POLICIES",
    "ConfoundedLogging",
    "LoggingPolicy",
    "RuleLogging",
    "UniformLogging",
    "build_logging_policy",
    "default_rules",
]


class LoggingPolicy(Protocol):
    @property
    def name(self) -> str: ...

    def action_dist(self, env: Environment, users: np.ndarray) -> np.ndarray: ...

    def choose(
        self, env: Environment, users: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]: ...


def _sample_rows(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``p`` (n, m), rows summing to 1."""
    cumulative = np.cumsum(p, axis=1)
    u = rng.random(len(p))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(1), p.shape[1] - 1)


@dataclass(frozen=True)
class UniformLogging:
    """Every arm with probability ``1 / n_arms``: the randomized "shuffle" data."""

    name: str = "uniform"

    def action_dist(self, env: Environment, users: np.ndarray) -> np.ndarray:
        return np.full((len(users), env.n_arms), 1.0 / env.n_arms)

    def choose(
        self, env: Environment, users: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(env.n_arms, size=len(users)), np.full(len(users), 1.0 / env.n_arms)


def default_rules(env: Environment) -> dict[str, str]:
    """What a bank's marketer would set: per segment, the product of highest expected
    return whose risk level does not exceed the segment's risk tolerance (no investments
    for the inexperienced), shown with the catalog's first decision-structure (default)
    strategy. Sensible, but neither personal nor tuned to the strategies."""
    arms = env.arms
    structure = np.flatnonzero(arms.family == 0)
    strategy = arms.strategy[structure[0]] if len(structure) else 0
    rules = {}
    for code in range(30):
        name = segment_name(code)
        risk, experienced = int(name.split("-r")[1][0]), name.endswith("x")
        allowed = (arms.strategy == strategy) & (arms.risk_level <= max(risk, 1))
        allowed &= experienced | (arms.category != 1)
        if not allowed.any():
            allowed = arms.strategy == strategy
        value = np.where(allowed, arms.expected_return - 0.001 * arms.risk_level, -np.inf)
        rules[name] = arms.arm_ids[int(np.argmax(value))]
    return rules


@dataclass(frozen=True)
class RuleLogging:
    """Segment -> arm (``rules`` keyed by segment name, see ``Population.segment``); with
    ``epsilon`` > 0 a uniform arm instead with that probability, so every arm has a
    propensity of at least ``epsilon / n_arms``."""

    rules: Mapping[str, str] = field(default_factory=dict)
    epsilon: float = 0.0
    name: str = "rule-based"

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")

    def target(self, env: Environment, users: np.ndarray) -> np.ndarray:
        rules = self.rules or default_rules(env)
        table = np.array([env.catalog.index(rules[segment_name(c)]) for c in range(30)])
        return table[env.population.segment_codes(users)]

    def action_dist(self, env: Environment, users: np.ndarray) -> np.ndarray:
        p = np.full((len(users), env.n_arms), self.epsilon / env.n_arms)
        p[np.arange(len(users)), self.target(env, users)] += 1.0 - self.epsilon
        return p

    def choose(
        self, env: Environment, users: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        target = self.target(env, users)
        explore = rng.random(len(users)) < self.epsilon
        arms = np.where(explore, rng.integers(env.n_arms, size=len(users)), target)
        pscore = self.epsilon / env.n_arms + (1.0 - self.epsilon) * (arms == target)
        return arms, pscore


@dataclass(frozen=True)
class ConfoundedLogging:
    """Arms shown to different user groups: a softmax (``temperature``) over a marketer's
    heuristic, mixed with ``floor`` uniform. The heuristic uses observed features (risk
    match; investments to the experienced; social and gamified strategies to heavy app
    users) and a *hidden* trait: the marketer knows, from knowledge that never reaches
    the data (branch conversations, a customer asking about a product), who is already
    keen on which product, and closes with an assistance nudge (``hidden_family``, 2 =
    gamification and incentives): ``hidden_weight`` times the customer's unobserved
    taste for the arm's product (the ground truth's per-user product term, which no
    feature predicts) is added to the ``hidden_family`` arms.

    The trap (Simpson's paradox): in these logs the targeted family converts well
    because of *who* saw it (customers keen on the product anyway), and a model that
    sees only the observed features credits the strategies instead, ranking that family
    above the others for everyone although it is no better. The logged propensities are
    exact, so IPS-type estimators stay unbiased; a model trained on randomized exposures
    (``UniformLogging``) only is not biased by the targeting (with the item-wise pairwise
    loss or pointwise; ``bench.learning.confounding`` measures both).
    ``hidden_weight=0`` targets on observed features only."""

    temperature: float = 0.5
    floor: float = 0.05
    hidden_weight: float = 6.0
    hidden_family: int = 2
    name: str = "confounded"

    def hidden_trait(self, env: Environment, users: np.ndarray) -> np.ndarray:
        """What the marketer knows and the data lacks, ``(n, n_arms)``: each user's
        unobserved taste for each arm's product (standard normal)."""
        arms = env.arms
        return hash_normal(env.truth.params.seed, users[:, None], arms.product[None, :], 2)

    def action_dist(self, env: Environment, users: np.ndarray) -> np.ndarray:
        pop, arms = env.population, env.arms
        _, _, _, phone_z = (v[users] for v in pop.standardized())
        gap = np.abs(arms.risk_level[None, :] - pop.risk_tolerance[users][:, None])
        invest = (arms.category == 1)[None, :] * pop.risky_investment[users][:, None]
        app = np.isin(arms.family, (2, 3))[None, :] * phone_z[:, None]
        heuristic = -0.8 * gap + 1.0 * invest + 0.6 * app
        if self.hidden_weight:
            targeted = (arms.family == self.hidden_family)[None, :]
            heuristic = heuristic + self.hidden_weight * targeted * self.hidden_trait(env, users)
        logits = heuristic / self.temperature
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return self.floor / env.n_arms + (1.0 - self.floor) * p

    def choose(
        self, env: Environment, users: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        arms = np.empty(len(users), np.int64)
        pscore = np.empty(len(users))
        for start in range(0, len(users), 2048):
            batch = slice(start, start + 2048)
            p = self.action_dist(env, users[batch])
            arms[batch] = _sample_rows(p, rng)
            pscore[batch] = p[np.arange(len(p)), arms[batch]]
        return arms, pscore


LOGGING_POLICIES = ("rule", "uniform", "confounded")


def build_logging_policy(name: str, epsilon: float = 0.0) -> LoggingPolicy:
    """``rule`` (optionally with ``epsilon`` exploration), ``uniform`` or ``confounded``."""
    if name in ("rule", "rule-based"):
        return RuleLogging(epsilon=epsilon)
    if name in ("uniform", "shuffle"):
        return UniformLogging()
    if name == "confounded":
        return ConfoundedLogging()
    raise ValueError(f"unknown logging policy {name!r}; choose from {LOGGING_POLICIES}")
