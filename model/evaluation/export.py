"""Logged feedback of a log file: an impression-level export straight from its columns.

``nudge evaluate`` reads a log with :func:`feedback_from_log`. An impression-level CSV
export read through its column mapping (``model.logs.rounds``) becomes a
:class:`~model.evaluation.feedback.LoggedFeedback` without events: per row the decision
is credited with its own outcome, which is what :mod:`model.attribution` does with that
row's four events when every row is its own user (``read_rounds`` checks it):

- the order is the attribution's event order: by time, rows of the same time in file
  order (a stable sort);
- a row's reward is ``clip(weight x value, 0, cap)`` of its outcome (a conversion of the
  mapping's kind) when the value is not 0 and the kind has a weight, else 0: always
  within the window (the conversion has its impression's time), never credited twice
  (one per decision);
- its slot is the context's ``position`` as ``feedback_from_events`` reads it.

Every other log, and an export ``read_rounds`` leaves to the events, is read as events
and attributed (:func:`~model.evaluation.feedback.feedback_from_events`): the same
feedback, or the same error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.attribution import AttributionRule
from model.catalog import Catalog
from model.evaluation.arms import ArmSpace, arm_space, split_known_codes
from model.evaluation.feedback import LoggedFeedback, feedback_from_events, slot_of
from model.logs import ColumnMapping, check_readable, is_csv, read_log
from model.logs.rounds import ExportRounds, read_rounds

__all__ = ["feedback_from_export", "feedback_from_log", "feedback_from_rounds"]

Arms = ArmSpace | Catalog | Sequence[str] | None


def feedback_from_log(
    path: str | Path,
    columns: ColumnMapping | None = None,
    arms: Arms = None,
    *,
    rule: AttributionRule | None = None,
    drop_unknown: bool = False,
) -> LoggedFeedback:
    """``feedback_from_events(read_log(path, columns), ...)``, from the columns of an
    impression-level export where that gives the same (see the module docstring)."""
    check_readable(path)
    if columns is not None and is_csv(path):
        fb = feedback_from_export(path, columns, arms, rule=rule, drop_unknown=drop_unknown)
        if fb is not None:
            return fb
    events = read_log(path, columns)
    return feedback_from_events(events, arms, rule=rule, drop_unknown=drop_unknown)


def feedback_from_export(
    path: str | Path,
    mapping: ColumnMapping,
    arms: Arms = None,
    *,
    rule: AttributionRule | None = None,
    drop_unknown: bool = False,
) -> LoggedFeedback | None:
    """The feedback of impression-level export ``path`` read column-wise, or None when
    its events are needed (``model.logs.rounds``; an export without rows, too)."""
    rounds = read_rounds(path, mapping)
    if rounds is None:
        return None
    return feedback_from_rounds(rounds, arms, rule=rule, drop_unknown=drop_unknown)


def feedback_from_rounds(
    rounds: ExportRounds,
    arms: Arms = None,
    *,
    rule: AttributionRule | None = None,
    drop_unknown: bool = False,
    position_key: str = "position",
) -> LoggedFeedback:
    """``feedback_from_events`` of the events of ``rounds`` (one user each)."""
    rule = rule or AttributionRule()
    order = np.argsort(rounds.ts_ms, kind="stable")
    space = arm_space(arms, rounds.arm_ids)
    keep, action, dropped = split_known_codes(
        rounds.arm_ids, rounds.arm[order], space, drop_unknown=drop_unknown
    )
    rows = order[keep]
    ids = _text(rounds.decision_ids[rows], rounds.id_lengths[rows])
    slots = np.array([slot_of(c.get(position_key)) for c in rounds.contexts], np.int64)
    combos = rounds.context[rows]
    policy = rounds.policy[rows]
    return LoggedFeedback(
        user_ids=ids.copy(),  # each row its own user, named by its id
        decision_ids=ids,
        contexts=list(map(rounds.contexts.__getitem__, combos.tolist())),
        action=action,
        pscore=rounds.pscore[rows],
        reward=_rewards(rounds.outcome[rows], rounds.kind, rule),
        ts_ms=rounds.ts_ms[rows],
        position=slots[combos],
        policy=policy.astype(str) if policy.dtype == object else policy,
        arms=space,
        n_logged=len(rounds),
        dropped=dict(dropped),
        reward_rule=rule.describe(),
    )


def _text(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``ids`` as wide as the widest of them (``astype(str)`` of the rows kept)."""
    width = max(1, int(lengths.max()))
    return ids if ids.dtype.itemsize == 4 * width else ids.astype(f"<U{width}")


def _rewards(outcome: np.ndarray, kind: str, rule: AttributionRule) -> np.ndarray:
    """Each row's reward: ``model.reward.event_reward`` of its conversion (the outcome,
    when not 0) added to a decision's 0.0, as the attribution credits it."""
    weight = rule.reward_weights.get(kind)
    if weight is None:  # a kind without a weight adds nothing
        return np.zeros(len(outcome))
    credited = 0.0 + np.minimum(np.maximum(weight * outcome, 0.0), rule.reward_cap)
    return np.where(outcome != 0, credited, 0.0)
