"""An A/B test on simulated users: rule-based (A) vs nudgeflow (B), as the source paper ran it.

The simulated users are split at random into two halves; group A is served by the
marketer's segment rules, group B by nudgeflow's bandit policy over a model fitted on
uniform-random history. Each user has ``sessions`` sessions a day apart; in each, a
decision request is answered, the nudge is shown (an impression) and, drawn from the
simulator's ground truth, it may be bought (a purchase conversion).

:class:`Experiment` holds what both runners share (the world, the split, group B's
scorer and the outcome draws); :func:`run_offline` runs both groups through the pure
engine step with in-memory stores. ``streams.apps.abtest`` builds the engines from
settings and runs the same experiment through Kafka and real workers.

User ``u``'s session ``k`` purchases when ``U[u, k] < p(u, arm)`` with ``U`` drawn once
from the seed, so the same decisions give the same purchases in either runner: with the
same engines and an order-independent policy, the runners agree user by user.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from model.engine import Engine
from model.evaluation.abtest import ABResult, two_proportion_ztest
from model.events import DecisionRequest, Event
from model.loop import step_in_store
from model.scoring import Scorer
from model.simulator.environment import Environment
from model.simulator.traffic import Traffic
from state import InMemoryStore

__all__ = ["GROUPS", "SCORERS", "AbConfig", "AbResult", "Experiment", "prepare", "run_offline"]

SCORERS = ("segment", "two-tower")
T0_MS = 1_735_689_600_000  # the first session: 2025-01-01
SESSION_GAP_MS = 86_400_000  # sessions are a day apart
GROUPS = ("A", "B")


@dataclass(frozen=True)
class AbConfig:
    users: int = 20_000
    sessions: int = 1
    history: int = 100_000
    policy: str = "epsilon-greedy"
    policy_params: Mapping[str, Any] = field(default_factory=lambda: {"epsilon": 0.05})
    scorer: str = "segment"
    seed: int = 0
    model_dir: Path | None = None  # two-tower: reuse the newest artifact here, else train

    def __post_init__(self) -> None:
        if self.users < 2 or self.sessions < 1 or self.history < 1:
            raise ValueError("--users must be >= 2, --sessions >= 1 and --history >= 1")
        if self.scorer not in SCORERS:
            raise ValueError(f"--scorer must be one of {', '.join(SCORERS)}, got {self.scorer!r}")

    def model_dir_in(self, out_dir: Path) -> Path:
        """Group B's two-tower model directory: ``model_dir``, else ``out_dir/model``."""
        return (self.model_dir or out_dir / "model").resolve()


@dataclass
class Experiment:
    """The world and both groups of one A/B test, the same for either runner."""

    config: AbConfig
    env: Environment
    in_b: np.ndarray  # bool (users,): the user is in group B (nudgeflow)
    uniforms: np.ndarray  # (users, sessions): a purchase when below the true probability
    scorer_b: Scorer
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.traffic = Traffic(self.env, self.config.seed)

    def group(self, user: int) -> str:
        return "B" if self.in_b[user] else "A"

    def request(self, user: int, session: int) -> DecisionRequest:
        event_id = f"ab{self.config.seed}-{self.env.user_id(user)}-{session}"
        return self.traffic.request(user, event_id, T0_MS + session * SESSION_GAP_MS)

    def outcome(
        self, user: int, session: int, request_id: str, decision_id: str, arm_id: str, ts: int
    ) -> tuple[bool, list[Event]]:
        """Show the nudge, and buy when the user's draw says so: (bought, events)."""
        bought = self.traffic.buys(user, arm_id, uniform=self.uniforms[user, session])
        events = self.traffic.outcome(
            self.env.user_id(user),
            decision_id,
            arm_id,
            bought=bought,
            event_ids=(f"{request_id}-i", f"{request_id}-c"),
            ts_ms=(ts + 1, ts + 2),
        )
        return bought, events


@dataclass
class AbResult:
    """What each user was shown and bought, per session; ``None`` where no nudge."""

    arms: list[list[str | None]]
    bought: np.ndarray  # bool (users, sessions)
    through: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, users: int, sessions: int, through: str) -> AbResult:
        return cls(
            [[None] * sessions for _ in range(users)], np.zeros((users, sessions), bool), through
        )

    def test(self, in_b: np.ndarray) -> ABResult:
        converted = np.asarray(self.bought.any(axis=1))
        return two_proportion_ztest(
            int(converted[~in_b].sum()),
            int((~in_b).sum()),
            int(converted[in_b].sum()),
            int(in_b.sum()),
        )


def prepare(config: AbConfig, out_dir: Path, *, progress: bool = True) -> Experiment:
    """Build the world, split it, fit group B's model on uniform-random history."""
    from model.simulator.history import simulate_rounds
    from model.simulator.logging_policies import UniformLogging

    env = Environment.build(config.users, seed=config.seed)
    rng = np.random.default_rng([config.seed, 99])
    in_b = rng.permutation(config.users) < config.users // 2
    uniforms = rng.random((config.users, config.sessions))
    past = simulate_rounds(env, UniformLogging(), config.history, seed=config.seed + 1)
    notes: list[str] = []
    if config.scorer == "segment":
        from model.evaluation import SegmentRateModel

        scorer: Scorer = SegmentRateModel.fit(
            env.population.segment_names(past.users), past.arms, past.reward, env.arm_ids
        )
    else:
        scorer = _two_tower(config, env, past, out_dir, notes, progress)
    return Experiment(config, env, in_b, uniforms, scorer, notes)


def _two_tower(
    config: AbConfig, env: Environment, past: Any, out_dir: Path, notes: list[str], progress: bool
) -> Scorer:
    """The newest valid artifact of the model directory, trained on the history if none."""
    from model.simulator.history import rounds_to_events
    from model.training import TrainOptions, train_round
    from model.twotower.artifact import newest_valid
    from model.twotower.scorer import TwoTowerScorer
    from model.twotower.train import TrainConfig

    model_dir = config.model_dir_in(out_dir)
    artifact, _ = newest_valid(model_dir)
    if artifact is None:
        model_dir.mkdir(parents=True, exist_ok=True)
        events = list(rounds_to_events(env, past))
        options = TrainOptions(train=TrainConfig(seed=config.seed))
        result = train_round(events, env.catalog, model_dir, options, progress=progress)
        if result.outcome != "published":
            raise RuntimeError(f"the two-tower model was not trained: {result.reason}")
        artifact, _ = newest_valid(model_dir)
        if artifact is None:
            raise RuntimeError(f"no valid model in {model_dir} after training")
        auc = (result.metrics or {}).get("auc")
        notes.append(
            f"two-tower {artifact.version} trained on the history (held-out AUC {auc:.3f})"
        )
    else:
        notes.append(f"two-tower {artifact.version} from {model_dir} (delete it to retrain)")
    return TwoTowerScorer(artifact, env.catalog)


def run_offline(
    experiment: Experiment, engines: Mapping[str, Engine], *, progress: bool = True
) -> AbResult:
    """Every user's sessions through the pure engine step, one in-memory store per group."""
    config = experiment.config
    stores = {g: InMemoryStore() for g in GROUPS}
    result = AbResult.empty(config.users, config.sessions, "offline")
    started = time.perf_counter()
    total = config.users * config.sessions
    with tqdm(total=total, unit="session", disable=not progress, desc="A/B offline") as bar:
        for k in range(config.sessions):
            for user in range(config.users):
                g = experiment.group(user)
                engine, store = engines[g], stores[g]
                request = experiment.request(user, k)
                decision = step_in_store(engine, store, request).decision
                if decision is not None and decision.arm_id is not None:
                    bought, events = experiment.outcome(
                        user, k, request.event_id, decision.decision_id, decision.arm_id, request.ts
                    )
                    result.arms[user][k], result.bought[user, k] = decision.arm_id, bought
                    for event in events:
                        step_in_store(engine, store, event)
                bar.update(1)
    result.seconds = time.perf_counter() - started
    return result
