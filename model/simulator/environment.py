"""The simulated world others use: users, arms and the true conversion probability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.catalog import Catalog, load_catalog
from model.simulator.arms import ArmTable, arm_table
from model.simulator.population import Population, generate_population
from model.simulator.truth import Truth, TruthParams, sigmoid

__all__ = ["Environment", "UserRef", "ArmRef"]

UserRef = int | str | Sequence[int] | Sequence[str] | np.ndarray
ArmRef = int | str | Sequence[int] | Sequence[str] | np.ndarray
_BATCH = 4096


@dataclass(frozen=True)
class Environment:
    """A population, a catalog and the ground truth ``p(user, arm)``.

    Users are referred to by index ``0..n_users-1`` or id ``"u0000042"``; arms by index
    into ``catalog.arms`` or by arm id. Every method takes scalars or 1-d sequences.
    """

    catalog: Catalog
    population: Population
    arms: ArmTable
    truth: Truth
    seed: int

    @classmethod
    def build(
        cls,
        n_users: int,
        catalog: Catalog | None = None,
        seed: int = 0,
        params: TruthParams | None = None,
    ) -> Environment:
        """A reproducible world: the same arguments always give the same users and truth."""
        catalog = catalog or load_catalog()
        population = generate_population(n_users, np.random.default_rng([seed, 1]))
        arms = arm_table(catalog)
        params = params or TruthParams(seed=seed)
        return cls(catalog, population, arms, Truth.build(population, arms, params), seed)

    @property
    def n_users(self) -> int:
        return len(self.population)

    @property
    def n_arms(self) -> int:
        return len(self.arms)

    @property
    def arm_ids(self) -> tuple[str, ...]:
        return self.arms.arm_ids

    # -- ids ------------------------------------------------------------------------------

    @staticmethod
    def user_id(index: int) -> str:
        return f"u{int(index):07d}"

    def user_index(self, users: UserRef) -> np.ndarray:
        """User indexes, shape ``(n,)`` int64, from indexes or ids."""
        values = np.atleast_1d(np.asarray(users))
        if values.dtype.kind in "iu":
            out = values.astype(np.int64)
        else:
            out = np.array([int(str(u).lstrip("u")) for u in values], np.int64)
        if out.size and (out.min() < 0 or out.max() >= self.n_users):
            raise ValueError(f"user index out of range [0, {self.n_users})")
        return out

    def arm_index(self, arms: ArmRef) -> np.ndarray:
        """Arm indexes, shape ``(n,)`` int64, from indexes or arm ids."""
        values = np.atleast_1d(np.asarray(arms))
        if values.dtype.kind in "iu":
            return values.astype(np.int64)
        return np.array([self.catalog.index(str(a)) for a in values], np.int64)

    # -- the truth ------------------------------------------------------------------------

    def context(self, user: int | str) -> dict[str, Any]:
        """The decision-request ``context`` of one user (observed features only)."""
        return self.population.context(int(self.user_index(user)[0]))

    def segment(self, user: int | str) -> str:
        return self.population.segment(int(self.user_index(user)[0]))

    def conversion_probability(self, users: UserRef, arms: ArmRef) -> np.ndarray:
        """True P(purchase | shown arms[i] to users[i]), shape ``(n,)``; inputs broadcast."""
        u, a = np.broadcast_arrays(self.user_index(users), self.arm_index(arms))
        return sigmoid(self.truth.logits(u, a))

    def conversion_matrix(self, users: UserRef, arms: ArmRef | None = None) -> np.ndarray:
        """True probabilities for every user x arm, shape ``(n_users_given, n_arms_given)``.
        Builds the full matrix: call it on batches of users."""
        a = np.arange(self.n_arms) if arms is None else self.arm_index(arms)
        return sigmoid(self.truth.logit_matrix(self.user_index(users), a))

    def best_arm(
        self, users: UserRef, arms: ArmRef | None = None, batch_size: int = _BATCH
    ) -> tuple[np.ndarray, np.ndarray]:
        """The oracle: ``(best arm index (n,), its probability (n,))`` per user, computed
        in batches of ``batch_size`` users (memory ``batch_size x n_arms``)."""
        u = self.user_index(users)
        a = np.arange(self.n_arms) if arms is None else self.arm_index(arms)
        best = np.empty(len(u), np.int64)
        value = np.empty(len(u), np.float64)
        for start in range(0, len(u), batch_size):
            logits = self.truth.logit_matrix(u[start : start + batch_size], a)
            column = logits.argmax(1)
            best[start : start + batch_size] = a[column]
            value[start : start + batch_size] = sigmoid(logits[np.arange(len(column)), column])
        return best, value

    def draw_outcome(self, rng: np.random.Generator, users: UserRef, arms: ArmRef) -> np.ndarray:
        """Bernoulli purchases for showing ``arms[i]`` to ``users[i]``, bool ``(n,)``."""
        p = self.conversion_probability(users, arms)
        return rng.random(p.shape) < p

    def mean_by_arm(self, users: UserRef | None = None, batch_size: int = _BATCH) -> np.ndarray:
        """Average true probability of each arm over ``users`` (default: everyone),
        shape ``(n_arms,)``: the non-personalised value of showing an arm."""
        u = np.arange(self.n_users) if users is None else self.user_index(users)
        total = np.zeros(self.n_arms)
        for start in range(0, len(u), batch_size):
            total += self.conversion_matrix(u[start : start + batch_size]).sum(0)
        return total / len(u)

    def policy_value(
        self, users: UserRef, action_dist: np.ndarray, batch_size: int = _BATCH
    ) -> float:
        """True expected reward ``mean_i sum_a action_dist[i, a] p(users[i], a)`` of a
        policy given as a distribution over all arms per user, ``(n, n_arms)``."""
        u = self.user_index(users)
        total = 0.0
        for start in range(0, len(u), batch_size):
            batch = slice(start, start + batch_size)
            total += float((self.conversion_matrix(u[batch]) * action_dist[batch]).sum())
        return total / len(u)
