"""Historical logs drawn from the simulator under a logging policy.

Each round is one decision request of a uniformly drawn user at a uniform time in the
window, the logging policy's decision (with its propensity), an impression 1-30 s
later and, with the true probability, a ``purchase`` conversion an exponential delay
(mean 2 h, capped at 6 days, inside the default 7-day attribution window) after it.
Event ids are ``s<seed>-r<k>`` (request), ``s<seed>-i<k>``, ``s<seed>-c<k>``; decision
ids come from :func:`model.engine.decision_id_for`, as the worker would derive them.
The log is in event-time order (ties: request, decision, impression, conversion).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from model.engine import decision_id_for
from model.events import SCHEMA_VERSION, Decision, LogEvent
from model.simulator.environment import Environment
from model.simulator.logging_policies import LoggingPolicy
from model.simulator.traffic import Traffic

__all__ = ["DAY_MS", "Rounds", "rounds_to_events", "simulate_rounds"]

DAY_MS = 86_400_000
START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@dataclass(frozen=True)
class Rounds:
    """One row per logged decision, all shape ``(n,)``: ``users`` and ``arms`` (indexes),
    ``pscore`` (logging propensity), ``reward`` (1.0 purchase / 0.0), ``ts_ms`` (request
    time), ``impression_delay_ms``, ``conversion_delay_ms`` (after the impression)."""

    users: np.ndarray
    arms: np.ndarray
    pscore: np.ndarray
    reward: np.ndarray
    ts_ms: np.ndarray
    impression_delay_ms: np.ndarray
    conversion_delay_ms: np.ndarray
    policy: str
    seed: int

    def __len__(self) -> int:
        return len(self.users)


def simulate_rounds(
    env: Environment,
    policy: LoggingPolicy,
    n_requests: int,
    seed: int = 0,
    *,
    days: float = 7.0,
    start_ms: int = START_MS,
) -> Rounds:
    """Draw ``n_requests`` rounds (vectorised; memory O(n_requests))."""
    if n_requests < 1:
        raise ValueError(f"n_requests must be >= 1, got {n_requests}")
    if days <= 0:
        raise ValueError(f"days must be > 0, got {days}")
    rng = np.random.default_rng([seed, 2])
    users = rng.integers(env.n_users, size=n_requests)
    ts = np.sort(start_ms + (rng.random(n_requests) * days * DAY_MS).astype(np.int64))
    arms, pscore = policy.choose(env, users, rng)
    reward = env.draw_outcome(rng, users, arms).astype(np.float64)
    delay = np.minimum(rng.exponential(2 * 3_600_000, n_requests), 6 * DAY_MS)
    return Rounds(
        users=users,
        arms=np.asarray(arms, np.int64),
        pscore=np.asarray(pscore, np.float64),
        reward=reward,
        ts_ms=ts,
        impression_delay_ms=rng.integers(1_000, 30_000, size=n_requests),
        conversion_delay_ms=delay.astype(np.int64),
        policy=policy.name,
        seed=seed,
    )


def _event_order(rounds: Rounds) -> tuple[np.ndarray, np.ndarray]:
    """``(round index, kind)`` of every event in time order; kind 0..3 = request,
    decision, impression, conversion."""
    n = len(rounds)
    index = np.arange(n)
    converted = np.flatnonzero(rounds.reward > 0)
    impression_ts = rounds.ts_ms + rounds.impression_delay_ms
    round_of = np.concatenate([index, index, index, converted])
    kind = np.repeat(np.arange(4), [n, n, n, len(converted)])
    ts = np.concatenate(
        [
            rounds.ts_ms,
            rounds.ts_ms,
            impression_ts,
            impression_ts[converted] + rounds.conversion_delay_ms[converted],
        ]
    )
    order = np.lexsort((kind, round_of, ts))
    return round_of[order], kind[order]


def rounds_to_events(env: Environment, rounds: Rounds) -> Iterator[LogEvent]:
    """The log of ``rounds`` as wire events in event-time order (lazy)."""
    round_of, kind = _event_order(rounds)
    traffic = Traffic(env)
    tag = f"s{rounds.seed}"
    for k, what in zip(round_of.tolist(), kind.tolist(), strict=True):
        yield _EVENT_BUILDERS[what](traffic, rounds, k, tag)


def _request(traffic: Traffic, r: Rounds, k: int, tag: str) -> LogEvent:
    return traffic.request(int(r.users[k]), f"{tag}-r{k}", int(r.ts_ms[k]))


def _decision(traffic: Traffic, r: Rounds, k: int, tag: str) -> LogEvent:
    env = traffic.env
    arm = env.catalog.arms[int(r.arms[k])]
    decision_id = decision_id_for(f"{tag}-r{k}")
    return Decision(
        schema_version=SCHEMA_VERSION,
        event_id=decision_id,
        ts=int(r.ts_ms[k]),
        user_id=env.user_id(int(r.users[k])),
        decision_id=decision_id,
        request_id=f"{tag}-r{k}",
        arm_id=arm.arm_id,
        product_id=arm.product.product_id,
        strategy_id=arm.strategy.strategy_id,
        propensity=float(r.pscore[k]),
        explored=bool(r.pscore[k] < 1.0),
        policy=r.policy,
        model_version="simulator",
        score=0.0,
    )


def _impression(traffic: Traffic, r: Rounds, k: int, tag: str) -> LogEvent:
    return traffic.impression(
        traffic.env.user_id(int(r.users[k])),
        decision_id_for(f"{tag}-r{k}"),
        traffic.env.arm_ids[int(r.arms[k])],
        f"{tag}-i{k}",
        int(r.ts_ms[k] + r.impression_delay_ms[k]),
    )


def _conversion(traffic: Traffic, r: Rounds, k: int, tag: str) -> LogEvent:
    ts = r.ts_ms[k] + r.impression_delay_ms[k] + r.conversion_delay_ms[k]
    user_id = traffic.env.user_id(int(r.users[k]))
    return traffic.purchase(user_id, decision_id_for(f"{tag}-r{k}"), f"{tag}-c{k}", int(ts))


_EVENT_BUILDERS = (_request, _decision, _impression, _conversion)
