"""Logged bandit feedback as arrays, extracted from a log of wire events.

Rewards come from the one attribution rule (:mod:`model.attribution`): a logged
decision's reward is what the serving engine credits to it (the window, the reward
weights of ``NUDGE_REWARD_WEIGHTS``, or a rule the user names such as ``--reward
click``). Arms are the log's own ids or a catalog's (:mod:`model.evaluation.arms`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.attribution import AttributionRule, attribute_log
from model.catalog import Catalog
from model.evaluation.arms import ArmSpace, arm_space, split_known
from model.events import LogEvent

__all__ = [
    "DecisionRows",
    "LoggedFeedback",
    "feedback_from_events",
    "feedback_from_rows",
    "slot_of",
]


@dataclass(frozen=True)
class LoggedFeedback:
    """One row per logged decision that showed a known arm, in log order.

    ``user_ids``/``decision_ids`` (n,) str; ``contexts``: the request contexts (read-only:
    rows with the same context may share one dict); ``action``
    (n,) arm index into ``arms.arm_ids``; ``pscore`` (n,) logging propensity; ``reward``
    (n,) the attributed reward; ``ts_ms`` (n,); ``position`` (n,) the slot of the round
    (0 when the log has none); ``policy`` (n,) the logging policy's name; ``item`` (n,)
    product index of the arm. ``n_logged``: decisions with an arm in the log, before
    ``dropped`` (arm id -> rounds left out as unknown); ``reward_rule`` describes rewards.
    """

    user_ids: np.ndarray
    decision_ids: np.ndarray
    contexts: list[dict[str, Any]]
    action: np.ndarray
    pscore: np.ndarray
    reward: np.ndarray
    ts_ms: np.ndarray
    position: np.ndarray
    policy: np.ndarray
    arms: ArmSpace
    n_logged: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    reward_rule: str = ""

    def __len__(self) -> int:
        return len(self.action)

    @property
    def arm_ids(self) -> tuple[str, ...]:
        return self.arms.arm_ids

    @property
    def item_of_arm(self) -> np.ndarray:
        return self.arms.item_of_arm

    @property
    def product_ids(self) -> tuple[str, ...]:
        return self.arms.product_ids

    @property
    def item(self) -> np.ndarray:
        return self.arms.item_of_arm[self.action]

    @property
    def policies(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.policy.tolist())))

    @property
    def n_arms(self) -> int:
        return self.arms.n_arms

    @property
    def n_items(self) -> int:
        return len(self.arms.product_ids)

    def segments(self, key: str = "segment") -> list[str]:
        return [str(c.get(key, "")) for c in self.contexts]

    def subset(self, rows: np.ndarray) -> LoggedFeedback:
        """The rounds ``rows`` (indexes or a mask), counts kept as logged."""
        index = np.arange(len(self))[rows]
        pick = {
            name: getattr(self, name)[index]
            for name in ("user_ids", "decision_ids", "action", "pscore", "reward")
            + ("ts_ms", "position", "policy")
        }
        contexts = [self.contexts[i] for i in index.tolist()]
        return LoggedFeedback(
            **pick,
            contexts=contexts,
            arms=self.arms,
            n_logged=self.n_logged,
            dropped=self.dropped,
            reward_rule=self.reward_rule,
        )


@dataclass
class DecisionRows:
    """Logged decisions with an arm, before their arms are indexed (one per round)."""

    decision_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    arm_ids: list[str] = field(default_factory=list)
    pscore: list[float] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    policy: list[str] = field(default_factory=list)
    contexts: list[dict[str, Any]] = field(default_factory=list)


def feedback_from_rows(
    rows: DecisionRows,
    arms: ArmSpace | Catalog | Sequence[str] | None = None,
    *,
    drop_unknown: bool = False,
    reward_rule: str = "",
) -> LoggedFeedback:
    """Index ``rows`` by ``arms`` (a catalog, plain ids, or None: the log's own ids)."""
    if not rows.arm_ids:
        raise ValueError("the log holds no decision that showed an arm")
    space = arm_space(arms, rows.arm_ids)
    keep, action, dropped = split_known(rows.arm_ids, space, drop_unknown=drop_unknown)
    index = np.flatnonzero(keep)
    return LoggedFeedback(
        user_ids=np.array(rows.user_ids, dtype=object)[index].astype(str),
        decision_ids=np.array(rows.decision_ids, dtype=object)[index].astype(str),
        contexts=[rows.contexts[i] for i in index.tolist()],
        action=action,
        pscore=np.asarray(rows.pscore, np.float64)[index],
        reward=np.asarray(rows.reward, np.float64)[index],
        ts_ms=np.asarray(rows.ts_ms, np.int64)[index],
        position=np.asarray(rows.position, np.int64)[index],
        policy=np.array(rows.policy, dtype=object)[index].astype(str),
        arms=space,
        n_logged=len(rows.arm_ids),
        dropped=dict(dropped),
        reward_rule=reward_rule,
    )


def feedback_from_events(
    events: Iterable[LogEvent],
    arms: ArmSpace | Catalog | Sequence[str] | None = None,
    *,
    rule: AttributionRule | None = None,
    drop_unknown: bool = False,
    position_key: str = "position",
) -> LoggedFeedback:
    """Rows from the decisions of a log; rewards by the attribution ``rule`` (default: the
    engine's default weights and window); requests give contexts (and the slot, from the
    context's ``position_key``)."""
    rule = rule or AttributionRule()
    rows = DecisionRows()
    for found in attribute_log(events, rule).decisions:
        d = found.decision
        rows.decision_ids.append(d.decision_id)
        rows.user_ids.append(d.user_id)
        rows.arm_ids.append(d.arm_id or "")
        rows.pscore.append(d.propensity)
        rows.reward.append(found.reward)
        rows.ts_ms.append(d.ts)
        rows.position.append(slot_of(found.context.get(position_key)))
        rows.policy.append(d.policy)
        rows.contexts.append(dict(found.context))
    return feedback_from_rows(rows, arms, drop_unknown=drop_unknown, reward_rule=rule.describe())


def slot_of(value: Any) -> int:
    """The slot a context's ``position`` value names (0: none, or not a number)."""
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0
