"""The worker's cold start with the online model (``model.online``) as a learner of the
benchmark: the default policy, its prior from an ``OnlineLinear`` refitted every
``refit_rounds`` from the per-arm sums of every outcome so far, as the worker's
maintenance thread refits it every few seconds (``streams.runtime.maintenance``).
"""

from __future__ import annotations

import numpy as np

from bench.learning.learners import NudgeflowLearner
from bench.learning.world import World
from model.bandit import HashDraws, Policy, PolicyContext
from model.bandit.estimates import ArmArrays
from model.online import ArmMoments, ContextEncoder, OnlineLinear

__all__ = ["OnlineLearner"]


class OnlineLearner(NudgeflowLearner):
    """A nudgeflow policy whose prior (mean and strength per arm) is the online model's."""

    def __init__(self, world: World, name: str, policy: Policy, refit_rounds: int = 1_000) -> None:
        super().__init__(world, name, policy, None, pooled=False)
        encoder = ContextEncoder()
        self.features = np.stack([encoder.encode(c) for c in world.contexts])
        self.moments = ArmMoments(encoder.dim)
        self.refit_rounds, self._since_fit = refit_rounds, 0
        self.model = OnlineLinear.fit(self.moments, world.env.catalog, encoder)

    def _one(self, t: int) -> int:
        world = self.world
        user = int(world.users[t])
        level = int(world.env.population.risk_tolerance[user])
        rows, ids = world.candidates[level], self._ids[level]
        impressions, conversions = self.impressions[user, rows], self.conversions[user, rows]
        stats = ArmArrays(impressions, conversions, conversions, seen=bool(impressions.any()))
        prior = self.model.predict(self.features[user], rows)
        context = PolicyContext(world.contexts[user], None, True, prior.strength)
        draws = HashDraws(f"{world.seed}-{t}".encode())
        return int(rows[self.policy.choose(stats, prior.mean, ids, draws, context=context).index])

    def learn(self, rounds: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        super().learn(rounds, arms, rewards)
        ids, users = self.world.env.arm_ids, self.world.users[rounds]
        for user, arm, reward in zip(users.tolist(), arms.tolist(), rewards.tolist(), strict=True):
            self.moments.add(ids[arm], self.features[user], 1.0, reward)
        self._since_fit += len(rounds)
        if self._since_fit >= self.refit_rounds:
            self.model = OnlineLinear.fit(self.moments, self.world.env.catalog, self.model.encoder)
            self._since_fit = 0
