"""Logged bandit feedback as arrays, extracted from a log of wire events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.catalog import Catalog
from model.events import Conversion, Decision, DecisionRequest, LogEvent

__all__ = ["LoggedFeedback", "feedback_from_events"]


@dataclass(frozen=True)
class LoggedFeedback:
    """One row per logged decision that showed an arm, in log order.

    ``user_ids``/``decision_ids`` (n,) str; ``contexts``: the request contexts; ``action``
    (n,) catalog arm index; ``pscore`` (n,) logging propensity; ``reward`` (n,) 1.0 when a
    success conversion was attributed to the decision (by ``decision_id``) else 0.0;
    ``ts_ms`` (n,); ``item`` (n,) product index of the arm; ``item_of_arm`` (n_arms,);
    ``product_ids`` names the items; ``policies``: the logging policies' names seen.
    """

    user_ids: np.ndarray
    decision_ids: np.ndarray
    contexts: list[dict[str, Any]]
    action: np.ndarray
    pscore: np.ndarray
    reward: np.ndarray
    ts_ms: np.ndarray
    item: np.ndarray
    item_of_arm: np.ndarray
    product_ids: tuple[str, ...]
    arm_ids: tuple[str, ...]
    policies: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.action)

    @property
    def n_arms(self) -> int:
        return len(self.arm_ids)

    @property
    def n_items(self) -> int:
        return len(self.product_ids)

    def segments(self, key: str = "segment") -> list[str]:
        return [str(c.get(key, "")) for c in self.contexts]


def _arm_products(catalog: Catalog) -> tuple[tuple[str, ...], np.ndarray]:
    product_ids = tuple(dict.fromkeys(a.product.product_id for a in catalog.arms))
    index = {p: i for i, p in enumerate(product_ids)}
    return product_ids, np.array([index[a.product.product_id] for a in catalog.arms])


def feedback_from_events(
    events: Iterable[LogEvent],
    catalog: Catalog,
    success_kinds: frozenset[str] = frozenset({"purchase"}),
) -> LoggedFeedback:
    """Rows from the decisions of a log; requests give contexts, conversions of
    ``success_kinds`` with a ``decision_id`` give rewards (others are ignored here)."""
    contexts: dict[str, dict[str, Any]] = {}
    rows: list[Decision] = []
    converted: set[str] = set()
    for event in events:
        if isinstance(event, DecisionRequest):
            contexts[event.event_id] = dict(event.context)
        elif isinstance(event, Decision):
            if event.arm_id is not None and event.arm_id in catalog:
                rows.append(event)
        elif isinstance(event, Conversion) and event.kind in success_kinds and event.decision_id:
            converted.add(event.decision_id)
    if not rows:
        raise ValueError("the log holds no decision that showed a known arm")
    product_ids, item_of_arm = _arm_products(catalog)
    action = np.array([catalog.index(d.arm_id) for d in rows if d.arm_id], np.int64)
    return LoggedFeedback(
        user_ids=np.array([d.user_id for d in rows]),
        decision_ids=np.array([d.decision_id for d in rows]),
        contexts=[contexts.get(d.request_id, {}) for d in rows],
        action=action,
        pscore=np.array([d.propensity for d in rows]),
        reward=np.array([d.decision_id in converted for d in rows], np.float64),
        ts_ms=np.array([d.ts for d in rows], np.int64),
        item=item_of_arm[action],
        item_of_arm=item_of_arm,
        product_ids=product_ids,
        arm_ids=catalog.arm_ids,
        policies=tuple(sorted({d.policy for d in rows})),
    )
