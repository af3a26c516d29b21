"""The past: uniform-random rounds of *other* customers (same population, same arms and
truth), and what each learner is given from them.

The history users are drawn apart from the benchmark's users (population seed differs,
the truth's arm terms are the same), so a model trained on them knows arms and
features, never the benchmark users themselves. Arms are uniform among each user's
eligible ones (the guardrail was on in the past too); propensity ``1 / n_eligible``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.learning.world import World, eligibility
from model.simulator import Environment
from model.simulator.truth import TruthParams
from model.twotower.dataset import Example
from state import ArmStats, UserState

__all__ = ["History", "draw_history", "examples_of", "train_two_tower"]


@dataclass(frozen=True)
class History:
    env: Environment
    users: np.ndarray
    arms: np.ndarray
    rewards: np.ndarray
    propensity: np.ndarray
    randomized: np.ndarray | None = None  # per round; None: all randomized

    def __len__(self) -> int:
        return len(self.users)


def draw_history(world: World, n_rounds: int, n_users: int) -> History:
    params = TruthParams(seed=world.seed)
    env = Environment.build(n_users, world.env.catalog, seed=world.seed + 7919, params=params)
    rng = np.random.default_rng([world.seed, 99])
    users = rng.integers(n_users, size=n_rounds)
    eligible = eligibility(env)[users]
    counts = eligible.sum(1)
    pick = (rng.random(n_rounds) * counts).astype(np.int64)
    arms = np.argmax(np.cumsum(eligible, 1) > pick[:, None], axis=1)
    rewards = env.draw_outcome(rng, users, arms).astype(np.float64)
    return History(env, users, arms, rewards, 1.0 / counts)


def examples_of(history: History) -> list[Example]:
    """Training examples, each with the user's state just before it (the behaviour
    aggregates the user tower reads), as ``build_examples`` would join them."""
    env, ids = history.env, history.env.arm_ids
    states: dict[int, dict[str, ArmStats]] = {}
    contexts: dict[int, dict] = {}
    out = []
    randomized = history.randomized
    if randomized is None:
        randomized = np.ones(len(history), bool)
    for k, (u, a, r, p, rand) in enumerate(
        zip(
            history.users.tolist(),
            history.arms.tolist(),
            history.rewards,
            history.propensity,
            randomized.tolist(),
            strict=True,
        )
    ):
        arms = states.setdefault(u, {})
        context = contexts.setdefault(u, env.context(u))
        out.append(
            Example(
                user_id=env.user_id(u),
                ts_ms=k,
                decision_id=f"h{k}",
                arm_id=ids[a],
                context=context,
                state=UserState(arms=dict(arms)),
                label=int(r),
                propensity=float(p),
                randomized=rand,
            )
        )
        old = arms.get(ids[a], ArmStats())
        arms[ids[a]] = ArmStats(
            impressions=old.impressions + 1,
            conversions=old.conversions + r,
            reward_sum=old.reward_sum + r,
        )
    return out


def train_two_tower(examples: list[Example], catalog, objective: str = "pointwise", seed: int = 0):  # type: ignore[no-untyped-def]
    """A two-tower scorer (numpy serving) fitted with the project's pipeline."""
    from model.twotower.pipeline import fit
    from model.twotower.scorer import TwoTowerScorer
    from model.twotower.train import TrainConfig

    config = TrainConfig(objective=objective, seed=seed)
    result = fit(examples, [], catalog, config, version=f"bench-{objective}-{seed}")
    return TwoTowerScorer(result.artifact, catalog)
