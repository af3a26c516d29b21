"""The ground-truth conversion probability ``p(user, arm)`` of the simulator.

    logit p(u, a) = bias[a] + taste[u] . traits[a]
                    - risk_penalty * max(0, risk_level[a] - risk_tolerance[u])
                    + idiosyncrasy * (z(u, strategy[a]) + z(u, product[a]))

- ``traits[a]`` (10): one-hot product category (savings, investment, insurance, credit),
  one-hot strategy family (``model.catalog.FAMILIES``), loss framing (0/1), urgency / 2.
- ``taste[u]`` (10), aligned with the traits: category affinity from observed features
  (savings: older, risk-averse; investment: risky-investment experience, risk tolerance;
  insurance: older; credit: younger, lower income), the user's latent susceptibility per
  family, loss aversion, urgency sensitivity (``model.simulator.population``).
- ``bias[a] = base_logit + appeal[product] + affinity[category, family]
  + return_weight * expected_return``: product appeal ~ N(0, appeal_sd) drawn from the
  seed; ``affinity`` is :data:`CATEGORY_FAMILY_AFFINITY` (defaults suit savings, loss
  framing suits insurance, social proof suits investment, incentives suit credit).
- ``z(u, s)``, ``z(u, p)``: standard normal per (user, strategy) and (user, product),
  a deterministic hash of (seed, user, item), so a user's personal taste for an arm is
  fixed without storing a users x arms matrix.

Everything is vectorised; matrices are only built for a batch of users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.simulator.arms import ArmTable
from model.simulator.population import Population

__all__ = ["CATEGORY_FAMILY_AFFINITY", "Truth", "TruthParams"]

# rows: savings, investment, insurance, credit; columns: structure, information,
# assistance, social appeal
CATEGORY_FAMILY_AFFINITY = np.array(
    [
        [0.5, 0.0, 0.2, 0.0],
        [-0.2, 0.2, 0.0, 0.4],
        [0.0, 0.5, 0.0, 0.1],
        [0.0, 0.0, 0.5, 0.1],
    ],
    np.float32,
)


@dataclass(frozen=True)
class TruthParams:
    base_logit: float = -3.4
    appeal_sd: float = 0.35
    return_weight: float = 3.0
    risk_penalty: float = 0.7
    idiosyncrasy: float = 0.45
    seed: int = 0


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_normal(seed: int, users: np.ndarray, items: np.ndarray, salt: int) -> np.ndarray:
    """Standard normal draws keyed by ``(seed, user, item, salt)``; ``users`` and ``items``
    broadcast against each other; float32 of the broadcast shape."""
    with np.errstate(over="ignore"):
        key = (users.astype(np.uint64) << np.uint64(24)) ^ items.astype(np.uint64)
        key = key ^ np.uint64((seed * 1_000_003 + salt * 7919) & 0xFFFFFFFFFFFF) << np.uint64(20)
    h1 = _splitmix64(key)
    h2 = _splitmix64(h1)
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    u2 = (h2 >> np.uint64(11)).astype(np.float64) / 2.0**53
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)


@dataclass(frozen=True)
class Truth:
    """``p(user, arm)`` for a population and an arm table (see the module docstring)."""

    population: Population
    arms: ArmTable
    params: TruthParams
    bias: np.ndarray  # (m,) float32

    @classmethod
    def build(cls, population: Population, arms: ArmTable, params: TruthParams) -> Truth:
        rng = np.random.default_rng([params.seed, 7])
        appeal = rng.normal(0, params.appeal_sd, len(arms.product_ids)).astype(np.float32)
        bias = (
            params.base_logit
            + appeal[arms.product]
            + CATEGORY_FAMILY_AFFINITY[arms.category, arms.family]
            + params.return_weight * arms.expected_return
        )
        return cls(population, arms, params, bias.astype(np.float32))

    def taste(self, users: np.ndarray) -> np.ndarray:
        """The users' side of the bilinear term, shape ``(len(users), 10)`` float32."""
        pop = self.population
        age_z, income_z, risk_z, _ = (v[users] for v in pop.standardized())
        risky = pop.risky_investment[users].astype(np.float32)
        categories = np.stack(
            [
                0.3 * age_z - 0.3 * risk_z,
                0.9 * risky + 0.5 * risk_z - 0.4,
                0.35 * age_z + 0.1 * income_z,
                -0.4 * age_z - 0.3 * income_z,
            ],
            axis=1,
        )
        extra = np.stack([0.8 * pop.loss_aversion[users], pop.urgency_sensitivity[users]], 1)
        return np.concatenate([categories, pop.susceptibility[users], extra], 1, dtype=np.float32)

    def logits(self, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
        """Pairwise logits of ``(users[i], arms[i])``, shape ``(n,)``."""
        a, p = self.arms, self.params
        out = np.einsum("ij,ij->i", self.taste(users), a.traits[arms]) + self.bias[arms]
        gap = a.risk_level[arms].astype(np.float32) - self.population.risk_tolerance[users]
        out -= p.risk_penalty * np.maximum(gap, 0)
        out += p.idiosyncrasy * hash_normal(p.seed, users, a.strategy[arms], 1)
        out += p.idiosyncrasy * hash_normal(p.seed, users, a.product[arms], 2)
        return out

    def logit_matrix(self, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
        """Logits of every user x arm pair, shape ``(len(users), len(arms))``."""
        a, p = self.arms, self.params
        out = self.taste(users) @ a.traits[arms].T + self.bias[arms]
        gap = a.risk_level[arms][None, :] - self.population.risk_tolerance[users][:, None]
        out -= p.risk_penalty * np.maximum(gap.astype(np.float32), 0)
        strategies, products = np.unique(a.strategy[arms]), np.unique(a.product[arms])
        z_s = hash_normal(p.seed, users[:, None], strategies[None, :], 1)
        z_p = hash_normal(p.seed, users[:, None], products[None, :], 2)
        s_col = np.searchsorted(strategies, a.strategy[arms])
        p_col = np.searchsorted(products, a.product[arms])
        out += p.idiosyncrasy * (z_s[:, s_col] + z_p[:, p_col])
        return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


__all__ += ["hash_normal", "sigmoid"]
