"""The online loop and its measures.

Rounds are served in batches of ``batch`` decisions; a learner decides a whole batch,
then learns the batch's outcomes (the feedback delay of a streaming worker, the same for
every learner). Measures (means of true probabilities, not of the 0/1 draws, which only
add noise; the learners themselves see only the draws):

- ``regret``: cumulative ``sum_t p(u_t, best eligible arm) - p(u_t, a_t)`` at checkpoints;
- ``cr_last``: mean ``p(u_t, a_t)`` over the last ``last_share`` of rounds;
- ``pct_oracle`` / ``pct_ceiling``: ``cr_last`` over the oracle's / the features-only
  ceiling's value on the same rounds, in %;
- ``us_per_decision``: wall time of ``decide`` per round, in this loop.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from bench.learning.world import World

__all__ = ["Learner", "run_learner", "score_choices"]

CHECKPOINTS = 50


class Learner(Protocol):
    name: str

    def decide(self, rounds: np.ndarray) -> np.ndarray: ...

    def learn(self, rounds: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None: ...


def run_learner(world: World, learner: Learner, batch: int = 32) -> dict[str, Any]:
    """Serve every round of ``world`` with ``learner``; its measures (see the module)."""
    arms = np.empty(world.n_rounds, np.int64)
    deciding = 0.0
    for start in range(0, world.n_rounds, batch):
        rounds = np.arange(start, min(start + batch, world.n_rounds))
        began = time.perf_counter()
        chosen = learner.decide(rounds)
        deciding += time.perf_counter() - began
        if not world.eligible[world.users[rounds], chosen].all():
            raise AssertionError(f"{learner.name} offered an ineligible arm")
        arms[rounds] = chosen
        p = world.truth[world.users[rounds], chosen]
        learner.learn(rounds, chosen, (world.reward_draws[rounds] < p).astype(np.float64))
    out = score_choices(world, arms)
    out["us_per_decision"] = 1e6 * deciding / world.n_rounds
    return out


def score_choices(world: World, arms: np.ndarray, last_share: float = 0.2) -> dict[str, Any]:
    users = world.users
    p = world.truth[users, arms]
    regret = np.cumsum(world.oracle[users] - p)
    marks = np.linspace(0, world.n_rounds, CHECKPOINTS + 1)[1:].astype(np.int64) - 1
    last = slice(int(world.n_rounds * (1 - last_share)), None)
    cr = float(p[last].mean())
    return {
        "regret": float(regret[-1]),
        "regret_curve": regret[marks].round(3).tolist(),
        "cr_last": cr,
        "pct_oracle": 100 * cr / float(world.oracle[users][last].mean()),
        "pct_ceiling": 100 * cr / float(world.ceiling[users][last].mean()),
    }


def reference_choices(world: World) -> dict[str, np.ndarray]:
    """Arms of the references, ``(T,)`` each: the oracle and the features-only ceiling."""
    users = world.users
    return {
        "oracle": world.truth[users].argmax(1),
        "features-only ceiling": world.ceiling_arm[users],
    }


__all__ += ["CHECKPOINTS", "reference_choices"]
