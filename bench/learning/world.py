"""One simulated world of the learning benchmark: users, rounds, reward draws, references.

Every policy of a run meets the same users in the same order and the same reward draws
(common random numbers): round ``t`` serves user ``users[t]`` and the shown arm converts
when ``reward_draws[t] < p(users[t], arm)``. The suitability guardrail is on for every
policy, peers included: a user is offered only arms whose risk level is at most their
risk tolerance (``model.guardrails``' rule), so each user has one of five candidate lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.catalog import Catalog, load_catalog
from model.simulator import Environment, synthetic_catalog
from model.simulator.ceiling import expected_given_features

__all__ = ["World", "build_world", "catalog_for"]


def catalog_for(n_arms: int, seed: int = 0) -> Catalog:
    """The built-in catalog (81 arms) or a synthetic one of ``n_arms`` (products x 10)."""
    if n_arms == 81:
        return load_catalog()
    if n_arms % 10:
        raise ValueError("synthetic catalogs have 10 strategies: n_arms must be 81 or 10k")
    return synthetic_catalog(n_arms // 10, 10, seed=seed)


@dataclass(frozen=True)
class World:
    """``truth`` ``(n_users, m)``: true p (ineligible arms 0); ``eligible`` bool ``(n_users,
    m)``; ``oracle`` / ``ceiling`` ``(n_users,)``: the value of the best eligible arm and
    of the features-only ceiling's arm ``ceiling_arm``; ``users``, ``reward_draws``,
    ``policy_draws`` ``(T,)``."""

    env: Environment
    truth: np.ndarray
    eligible: np.ndarray
    oracle: np.ndarray
    ceiling: np.ndarray
    ceiling_arm: np.ndarray
    users: np.ndarray
    reward_draws: np.ndarray
    policy_draws: np.ndarray
    contexts: tuple[dict[str, Any], ...]
    candidates: tuple[np.ndarray, ...]  # per risk tolerance 1..5 (index 0 unused)
    seed: int

    @property
    def n_arms(self) -> int:
        return self.env.n_arms

    @property
    def n_rounds(self) -> int:
        return len(self.users)

    def candidate_rows(self, user: int) -> np.ndarray:
        """Catalog indexes of the arms ``user`` may be offered."""
        return self.candidates[int(self.env.population.risk_tolerance[user])]


def eligibility(env: Environment) -> np.ndarray:
    """Suitability, ``(n_users, m)`` bool: risk level at most the user's tolerance."""
    return env.arms.risk_level[None, :] <= env.population.risk_tolerance[:, None]


def build_world(seed: int, n_arms: int, n_users: int, n_rounds: int) -> World:
    env = Environment.build(n_users, catalog_for(n_arms, seed), seed=seed)
    users = np.arange(n_users)
    eligible = eligibility(env)
    truth = np.where(eligible, env.conversion_matrix(users), 0.0)
    expected = np.where(
        eligible, expected_given_features(env.truth, users, np.arange(env.n_arms)), -1.0
    )
    ceiling_arm = expected.argmax(1)
    rng = np.random.default_rng([seed, 2024])
    rows = np.arange(env.n_arms)
    return World(
        env=env,
        truth=truth,
        eligible=eligible,
        oracle=truth.max(1),
        ceiling=truth[users, ceiling_arm],
        ceiling_arm=ceiling_arm,
        users=rng.integers(n_users, size=n_rounds),
        reward_draws=rng.random(n_rounds),
        policy_draws=rng.random(n_rounds),
        contexts=tuple(env.context(u) for u in range(n_users)),
        candidates=tuple(rows[env.arms.risk_level <= level] for level in range(6)),
        seed=seed,
    )
