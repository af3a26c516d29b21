"""nudgeflow's policies as learners of the benchmark: the policy objects and the scorer
the worker serves, fed with exactly what ``Engine._choose`` gives them (the user's arm
statistics as arrays, the scorer's probabilities for the user's context and state, the
pooled population statistics, seeded draws), without the event plumbing around them
(``timing`` measures that separately through the real ``Engine``).

Feedback is immediate per batch (the harness decides a batch, then learns from it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.learning.world import World
from model.bandit import HashDraws, Policy, PolicyContext
from model.bandit.estimates import ArmArrays
from model.scoring import ConstantScorer, Scorer
from state import ArmStats, UserState

__all__ = ["NudgeflowLearner"]


class NudgeflowLearner:
    """One nudgeflow policy + scorer; per-user statistics as arrays ``(n_users, m)``.

    ``pooled``: pass the population's statistics per arm (``PolicyContext.population``),
    as a worker given pooled statistics does."""

    def __init__(
        self, world: World, name: str, policy: Policy, scorer: Scorer | None, *, pooled: bool
    ) -> None:
        self.world, self.name, self.policy = world, name, policy
        self.scorer = scorer or ConstantScorer()
        self.model_loaded = scorer is not None
        shape = (world.env.n_users, world.n_arms)
        self.impressions, self.conversions = np.zeros(shape), np.zeros(shape)
        self.pooled = np.zeros((2, world.n_arms)) if pooled else None
        ids = world.env.arm_ids
        self._ids = [tuple(ids[i] for i in rows) for rows in world.candidates]

    def decide(self, rounds: np.ndarray) -> np.ndarray:
        return np.fromiter((self._one(int(t)) for t in rounds), np.int64, len(rounds))

    def _one(self, t: int) -> int:
        world = self.world
        user = int(world.users[t])
        level = int(world.env.population.risk_tolerance[user])
        rows, ids = world.candidates[level], self._ids[level]
        impressions, conversions = self.impressions[user, rows], self.conversions[user, rows]
        seen = bool(impressions.any())
        stats = ArmArrays(impressions, conversions, conversions, seen=seen)
        state = _state(ids, impressions, conversions) if seen else UserState()
        scores = np.asarray(self.scorer.score(world.contexts[user], state, ids), float)
        population = None
        if self.pooled is not None:
            pooled = self.pooled[:, rows]
            population = ArmArrays(pooled[0], pooled[1], pooled[1])
        context = PolicyContext(world.contexts[user], population, self.model_loaded)
        draws = HashDraws(f"{world.seed}-{t}".encode())
        choice = self.policy.choose(stats, scores, ids, draws, context=context)
        return int(rows[choice.index])

    def learn(self, rounds: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        users = self.world.users[rounds]
        np.add.at(self.impressions, (users, arms), 1.0)
        np.add.at(self.conversions, (users, arms), rewards)
        if self.pooled is not None:
            np.add.at(self.pooled[0], arms, 1.0)
            np.add.at(self.pooled[1], arms, rewards)


def _state(ids: Sequence[str], impressions: np.ndarray, conversions: np.ndarray) -> UserState:
    """The user's state as the scorer reads it (arm statistics of the arms seen)."""
    seen = np.flatnonzero(impressions)
    return UserState(
        arms={
            ids[i]: ArmStats(
                impressions=float(impressions[i]),
                conversions=float(conversions[i]),
                reward_sum=float(conversions[i]),
            )
            for i in seen
        }
    )
