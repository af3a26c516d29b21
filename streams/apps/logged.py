"""Another system's logged decisions, replayed so that a running worker applies them.

The worker decides each request itself: its decision's id is ``decision_id_for(request
id)`` and its arm is the policy's choice. Our own logs follow that rule, so their
impressions and conversions refer to what the worker decides again. Another system's
export does not: its decisions have their own ids (an impression-level row's ``"0"``)
and arms the worker's policy would rarely choose, so its outcomes would be refused or
orphaned. :func:`as_logged` rewrites such a log, event for event (positions and
``event_id`` unchanged, so checkpoints and dedupe hold), into one the worker applies:

- a request immediately followed by its decision of another system (an arm, and an id
  that is not ``decision_id_for(request id)``) gets that arm as its only candidate and
  the decision's propensity, policy and model version as ``logged``
  (``model.events.LoggedChoice``), so the worker decides the logged arm under its own
  decision id and records the log's propensity (off-policy estimates of the replayed
  topics are those of the log; a log that names no policy or model version gets
  ``"logged"``);
- that decision takes the worker's decision id too: the worker makes it again, so it
  is not published a second time (``is_foreign`` no longer holds);
- impressions and conversions of that decision refer to the worker's decision id;
- everything else is left as it is.

The worker's catalog must hold the log's arms (``nudge catalog --from-log``); a
guardrail of the worker may still refuse a logged arm (then its outcomes are refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from model.engine import decision_id_for
from model.events import (
    Conversion,
    Decision,
    DecisionRequest,
    Impression,
    LogEvent,
    LoggedChoice,
)

__all__ = ["as_logged", "is_foreign"]


def is_foreign(decision: Decision) -> bool:
    """A decision with an arm whose id is not the one the worker gives its request."""
    return decision.arm_id is not None and decision.decision_id != decision_id_for(
        decision.request_id
    )


def as_logged(events: Iterable[LogEvent]) -> Iterator[LogEvent]:
    """``events`` with another system's decisions made the worker's (module docstring)."""
    aliases: dict[str, str] = {}
    waiting: DecisionRequest | None = None
    for event in events:
        if waiting is not None:
            yield _pinned(waiting, event, aliases)
            waiting = None
        if isinstance(event, DecisionRequest):
            waiting = event
        elif isinstance(event, Decision | Impression | Conversion) and event.decision_id in aliases:
            yield msgspec.structs.replace(event, decision_id=aliases[event.decision_id])
        else:
            yield event
    if waiting is not None:
        yield waiting


def _pinned(request: DecisionRequest, after: LogEvent, aliases: dict[str, str]) -> LogEvent:
    """The request, with the arm of the foreign decision ``after`` it as only candidate
    and that decision's propensity, policy and model version."""
    if not isinstance(after, Decision) or after.request_id != request.event_id:
        return request
    if not is_foreign(after) or after.arm_id is None:
        return request
    aliases[after.decision_id] = decision_id_for(request.event_id)
    logged = LoggedChoice(
        propensity=after.propensity,
        policy=after.policy,
        model_version=after.model_version,
        explored=after.explored,
    )
    return msgspec.structs.replace(request, candidates=[after.arm_id], logged=logged)
