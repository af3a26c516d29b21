"""Who runs: nudgeflow's policies and the peers, with and without history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.learning.harness import Learner
from bench.learning.history import History
from bench.learning.learners import NudgeflowLearner
from bench.learning.online import OnlineLearner
from bench.learning.peers import MabwiserLearner, VWLearner
from bench.learning.world import World
from model.bandit import DEFAULT_POLICY, build_policy
from model.bandit.rule_based import RuleBased
from model.scoring import Scorer
from model.simulator import default_rules

__all__ = ["PEERS", "cold_lineup", "history_lineup"]

PEERS = ("vw", "linucb", "lints")
ONLINE = "default cold + online model"  # the worker's cold start (``bench.learning.online``)
# the default Thompson without the user's evidence shared along product and strategy,
# and the default before (prior strength 10, draws from the posterior itself, no siblings)
NO_SIBLINGS: dict[str, Any] = {"sibling_strength": 0.0}
FORMER: dict[str, Any] = {"sharpness": 1.0, "sibling_strength": 0.0}
Factory = Callable[[], Learner]


def _nudge(
    world: World,
    name: str,
    policy: str,
    params: dict[str, Any],
    scorer: Callable[[], Scorer] | None,
    pooled: bool = False,
) -> tuple[str, Factory]:
    return name, lambda: NudgeflowLearner(
        world,
        name,
        build_policy(policy, params),
        None if scorer is None else scorer(),
        pooled=pooled,
    )


def _peers(
    world: World, history: History | None, peers: tuple[str, ...], tag: str
) -> list[tuple[str, Factory]]:
    out: list[tuple[str, Factory]] = []
    if "vw" in peers:
        out.append((f"VW squarecb{tag}", lambda: VWLearner(world, f"VW squarecb{tag}", history)))
    for kind, label in (("linucb", "LinUCB"), ("lints", "LinTS")):
        if kind in peers:
            name = f"mabwiser {label}{tag}"
            out.append((name, lambda k=kind, n=name: MabwiserLearner(world, n, k, history)))
    return out


def history_lineup(
    world: World, history: History | None, scorer: Callable[[], Scorer], peers: tuple[str, ...]
) -> list[tuple[str, Factory]]:
    """Everyone given the 100k-round history (nudgeflow: the two-tower trained on it,
    built by ``scorer`` when a learner of the lineup is made)."""
    return [
        _nudge(world, "thompson (default) + two-tower", "thompson", {}, scorer),
        _nudge(world, "thompson, no siblings + two-tower", "thompson", NO_SIBLINGS, scorer),
        _nudge(world, "thompson, former default + two-tower", "thompson", FORMER, scorer),
        _nudge(
            world, "epsilon-greedy 0.05 + two-tower", "epsilon-greedy", {"epsilon": 0.05}, scorer
        ),
        _nudge(world, "ucb-model + two-tower", "ucb-model", {}, scorer),
        *_peers(world, history, peers, " + history"),
    ]


def cold_lineup(world: World, peers: tuple[str, ...]) -> list[tuple[str, Factory]]:
    """No history, no model: what each learns online only."""
    rules = default_rules(world.env)
    return [
        _nudge(world, "thompson cold (pooled stats)", "thompson", {}, None, pooled=True),
        (ONLINE, lambda: OnlineLearner(world, ONLINE, build_policy(DEFAULT_POLICY, {}))),
        _nudge(world, "ucb1 (unfit: unseen arms first)", "ucb1", {}, None),
        _nudge(world, "uniform", "uniform", {}, None),
        (
            "rule-based",
            lambda: NudgeflowLearner(
                world, "rule-based", RuleBased(rules=rules), None, pooled=False
            ),
        ),
        *_peers(world, None, peers, " online"),
    ]
