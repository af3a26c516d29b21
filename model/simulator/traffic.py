"""Simulated traffic as typed wire events: one generator for history, A/B tests and the demo.

A :class:`Traffic` speaks for a population: the decision request a user sends, and what
the user does with a nudge shown to them (an impression and, when the draw falls below
the true purchase probability, a ``purchase`` conversion). Draws come from one seeded
generator, or from uniforms the caller fixed in advance (the A/B test draws them once
so that either runner sees the same purchases)::

    traffic = Traffic(env, seed=7)
    users = traffic.draw_users(100)                       # (100,) user indexes
    request = traffic.request(int(users[0]), "r-1", ts_ms)
    bought = traffic.buys(int(users[0]), "gold:framing")  # or uniform=U[u, k]
    events = traffic.outcome(user_id, decision_id, arm_id, bought=bought,
                             event_ids=("i-1", "c-1"), ts_ms=(ts + 1, ts + 2))
"""

from __future__ import annotations

import numpy as np

from model.events import SCHEMA_VERSION, Conversion, DecisionRequest, Event, Impression
from model.simulator.environment import Environment

__all__ = ["Traffic"]


class Traffic:
    """Typed requests and outcomes of ``env``'s users, drawn from ``rng`` (or ``seed``)."""

    def __init__(
        self, env: Environment, seed: int = 0, rng: np.random.Generator | None = None
    ) -> None:
        self.env = env
        self.rng = rng if rng is not None else np.random.default_rng(seed)

    def draw_users(self, count: int) -> np.ndarray:
        """``count`` user indexes drawn uniformly with replacement, shape ``(count,)``."""
        return self.rng.integers(0, self.env.n_users, count)

    def request(self, user: int, event_id: str, ts_ms: int) -> DecisionRequest:
        """User ``user``'s decision request, with the observed features as its context."""
        return DecisionRequest(
            schema_version=SCHEMA_VERSION,
            event_id=event_id,
            ts=int(ts_ms),
            user_id=self.env.user_id(user),
            context=self.env.context(user),
        )

    def purchase_probability(self, user: int | str, arm_id: str) -> float:
        """The true probability that ``user`` buys after seeing ``arm_id``."""
        return float(self.env.conversion_probability(user, arm_id)[0])

    def buys(self, user: int | str, arm_id: str, uniform: float | None = None) -> bool:
        """Whether ``user`` buys ``arm_id``: ``uniform`` (default: a fresh draw) below the
        true probability."""
        draw = self.rng.random() if uniform is None else uniform
        return bool(draw < self.purchase_probability(user, arm_id))

    def impression(
        self, user_id: str, decision_id: str, arm_id: str, event_id: str, ts_ms: int
    ) -> Impression:
        return Impression(
            schema_version=SCHEMA_VERSION,
            event_id=event_id,
            ts=int(ts_ms),
            user_id=user_id,
            decision_id=decision_id,
            arm_id=arm_id,
        )

    def purchase(self, user_id: str, decision_id: str, event_id: str, ts_ms: int) -> Conversion:
        return Conversion(
            schema_version=SCHEMA_VERSION,
            event_id=event_id,
            ts=int(ts_ms),
            user_id=user_id,
            kind="purchase",
            value=1.0,
            decision_id=decision_id,
        )

    def outcome(
        self,
        user_id: str,
        decision_id: str,
        arm_id: str,
        *,
        bought: bool,
        event_ids: tuple[str, str],
        ts_ms: tuple[int, int],
    ) -> list[Event]:
        """The nudge shown (an impression) and, when ``bought``, its purchase; ids and
        times are ``(impression, purchase)``."""
        shown = self.impression(user_id, decision_id, arm_id, event_ids[0], ts_ms[0])
        if not bought:
            return [shown]
        return [shown, self.purchase(user_id, decision_id, event_ids[1], ts_ms[1])]
