"""Peers from the ``bench`` extra, given exactly what nudgeflow's learners are given.

- **VW** (``vowpalwabbit``): ``--cb_explore_adf --squarecb -q UA``; shared namespace U =
  the user's observed features (standardised age, log income, risk tolerance, log app
  time, risky-investment flag, region), one action per *eligible* arm with namespace A =
  product id, strategy id, category, family, framing, urgency, risk level. Cost = -reward.
  With history it first learns every past round (logged action, its propensity).
- **mabwiser** ``LinUCB`` (alpha 1) / ``LinTS`` (alpha 1): a ridge regression per arm on
  the same user features (plus a constant); ineligible arms are masked out of the
  expectations. With history: ``fit`` on the past rounds, then ``partial_fit`` online.

Both see no per-user identity (nor do nudgeflow's models: only its bandit statistics).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.learning.history import History
from model.simulator import Environment
from model.simulator.population import REGIONS

__all__ = ["MabwiserLearner", "VWLearner", "peer_versions", "user_features"]


def peer_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for name in ("vowpalwabbit", "mabwiser"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def user_features(env: Environment) -> np.ndarray:
    """Observed features of every user, ``(n_users, 10)``: 5 numbers + region one-hot."""
    pop = env.population
    age_z, income_z, risk_z, phone_z = pop.standardized()
    region = np.eye(len(REGIONS))[pop.region]
    numbers = np.stack([age_z, income_z, risk_z, phone_z, pop.risky_investment], 1)
    return np.concatenate([numbers, region], 1).astype(np.float64)


def _arm_lines(env: Environment) -> list[str]:
    out = []
    for arm in env.catalog.arms:
        p, s = arm.product, arm.strategy
        out.append(
            f"|A p={p.product_id} s={s.strategy_id} c={p.category} f={s.family} "
            f"fr={s.framing} u:{s.urgency} r:{p.risk_level}"
        )
    return out


def _user_lines(env: Environment) -> list[str]:
    x = user_features(env)
    region = np.asarray(REGIONS)[env.population.region]
    return [
        f"shared |U a:{r[0]:.3f} i:{r[1]:.3f} k:{r[2]:.3f} t:{r[3]:.3f} x:{r[4]:.0f} g={g}"
        for r, g in zip(x, region, strict=True)
    ]


class VWLearner:
    def __init__(self, world: Any, name: str, history: History | None) -> None:
        from vowpalwabbit import Workspace

        self.world, self.name = world, name
        self.vw = Workspace("--cb_explore_adf --squarecb -q UA --quiet --random_seed 0")
        self.arms = _arm_lines(world.env)
        self.users = _user_lines(world.env)
        self._pmf: dict[int, float] = {}
        if history is not None:
            past_users = _user_lines(history.env)
            rows = world.candidates
            risk = history.env.population.risk_tolerance
            for u, a, r, p in zip(
                history.users, history.arms, history.rewards, history.propensity, strict=True
            ):
                self._learn(past_users[u], rows[int(risk[u])], int(a), float(r), float(p))

    def _lines(self, shared: str, rows: np.ndarray, label: tuple[int, str] | None) -> list[str]:
        lines = [shared] + [self.arms[i] for i in rows]
        if label is not None:
            lines[1 + label[0]] = label[1] + " " + lines[1 + label[0]]
        return lines

    def _learn(self, shared: str, rows: np.ndarray, arm: int, reward: float, p: float) -> None:
        position = int(np.searchsorted(rows, arm))
        self.vw.learn(self._lines(shared, rows, (position, f"0:{-reward}:{p}")))

    def decide(self, rounds: np.ndarray) -> np.ndarray:
        out = np.empty(len(rounds), np.int64)
        for k, t in enumerate(rounds.tolist()):
            user = int(self.world.users[t])
            rows = self.world.candidate_rows(user)
            pmf = np.asarray(self.vw.predict(self._lines(self.users[user], rows, None)))
            cumulative = np.cumsum(pmf)
            u = self.world.policy_draws[t] * cumulative[-1]
            i = min(int(np.searchsorted(cumulative, u, side="right")), len(rows) - 1)
            out[k] = rows[i]
            self._pmf[t] = float(pmf[i])
        return out

    def learn(self, rounds: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        for t, a, r in zip(rounds.tolist(), arms.tolist(), rewards.tolist(), strict=True):
            user = int(self.world.users[t])
            self._learn(self.users[user], self.world.candidate_rows(user), a, r, self._pmf.pop(t))


class MabwiserLearner:
    def __init__(self, world: Any, name: str, kind: str, history: History | None) -> None:
        from mabwiser.mab import MAB, LearningPolicy

        self.world, self.name = world, name
        policy = (
            LearningPolicy.LinUCB(alpha=1.0)
            if kind == "linucb"
            else LearningPolicy.LinTS(alpha=1.0)
        )
        self.mab = MAB(arms=list(range(world.n_arms)), learning_policy=policy, seed=world.seed)
        self.features = _with_constant(user_features(world.env))
        self.fitted = history is not None
        if history is not None:
            past = _with_constant(user_features(history.env))[history.users]
            self.mab.fit(history.arms.tolist(), history.rewards, past)

    def decide(self, rounds: np.ndarray) -> np.ndarray:
        users = self.world.users[rounds]
        eligible = self.world.eligible[users]
        if not self.fitted:  # nothing learnt yet: uniform among the eligible arms
            pick = (self.world.policy_draws[rounds] * eligible.sum(1)).astype(np.int64)
            return np.argmax(np.cumsum(eligible, 1) > pick[:, None], axis=1)
        expectations = self.mab.predict_expectations(self.features[users])
        if isinstance(expectations, dict):
            expectations = [expectations]
        values = np.array([[e[a] for a in range(self.world.n_arms)] for e in expectations])
        return np.where(eligible, values, -np.inf).argmax(1)

    def learn(self, rounds: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        x = self.features[self.world.users[rounds]]
        if self.fitted:
            self.mab.partial_fit(arms.tolist(), rewards, x)
        else:
            self.mab.fit(arms.tolist(), rewards, x)
            self.fitted = True


def _with_constant(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((len(x), 1))], 1)
