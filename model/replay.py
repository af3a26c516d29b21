"""Replay a historical log offline, through the pure step (``nudge replay --offline``).

Offline (:func:`replay_offline`): every request, impression and conversion of the log
goes through ``Engine.step`` in log order against a store (in memory or RocksDB), exactly
as the worker would apply it; logged decisions are skipped (the engine decides anew).
A logged impression of an arm the engine did not choose is refused (``arm_mismatch``),
so on a uniform-random log the decisions that match the logged arm are Li et al.'s replay
sample of the engine's policy: :class:`ReplaySummary` reports them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from model.engine import Engine, Outcome
from model.events import Conversion, Decision, DecisionRequest, Impression, LogEvent
from model.loop import step_in_store
from state import UserStore

__all__ = ["EVENT_KIND", "ReplaySummary", "replay_offline"]

EVENT_KIND: dict[type, str] = {  # each event's kind, as its topic is named
    DecisionRequest: "decision-requests",
    Decision: "decisions",
    Impression: "impressions",
    Conversion: "conversions",
}


@dataclass
class ReplaySummary:
    """Counts of an offline replay: ``outcomes[(kind, outcome)]``; ``matched`` decisions
    chose the logged arm and ``matched_conversions`` of them converted (Li replay)."""

    events: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    matched: int = 0
    matched_conversions: int = 0

    @property
    def replay_rate(self) -> float:
        return self.matched_conversions / self.matched if self.matched else float("nan")


def replay_offline(
    events: Iterable[LogEvent],
    engine: Engine,
    store: UserStore,
    progress: Callable[[int], None] | None = None,
) -> ReplaySummary:
    """Apply a log to ``store`` through ``engine.step``; see the module docstring."""
    summary = ReplaySummary()
    logged: dict[str, str | None] = {}
    chosen: dict[str, str | None] = {}
    for event in events:
        summary.events += 1
        if progress is not None:
            progress(1)
        if isinstance(event, Decision):
            logged[event.decision_id] = event.arm_id
            continue
        result = step_in_store(engine, store, event)
        summary.outcomes[(_kind(event), result.outcome.value)] += 1
        if result.decision is not None:
            chosen[result.decision.decision_id] = result.decision.arm_id
        _count_match(summary, event, result.outcome, logged, chosen)
    return summary


def _count_match(
    summary: ReplaySummary,
    event: LogEvent,
    outcome: Outcome,
    logged: dict[str, str | None],
    chosen: dict[str, str | None],
) -> None:
    if outcome is not Outcome.APPLIED:
        return
    if isinstance(event, Impression) and chosen.get(event.decision_id) == event.arm_id:
        summary.matched += 1
    elif isinstance(event, Conversion) and event.decision_id is not None:
        matched = chosen.get(event.decision_id) == logged.get(event.decision_id, "")
        summary.matched_conversions += matched


def _kind(event: LogEvent) -> str:
    return EVENT_KIND.get(type(event), "decisions")
