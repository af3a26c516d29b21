"""What a decision leaves behind: the stored record and the wire decision built from it.

Pure functions of the step (``model.engine``): the record of a blocked request, the
record of a replayed decision as another system logged it, and the wire
:class:`~model.events.Decision` of a stored record (the same for a redelivered request).
"""

from __future__ import annotations

import msgspec

from model.catalog import Catalog
from model.events import SCHEMA_VERSION, Decision, DecisionRequest, LoggedChoice
from state import DecisionRecord

__all__ = ["LOGGED_MARKER", "as_logged", "decision_of", "no_nudge_record"]

# policy and model_version of a replayed decision whose log names neither
LOGGED_MARKER = "logged"


def no_nudge_record(
    request: DecisionRequest, decision_id: str, reason: str, model_version: str, policy: str
) -> DecisionRecord:
    """The record of a request that shows no nudge (``reason``: the guardrail's)."""
    return DecisionRecord(
        decision_id=decision_id,
        request_id=request.event_id,
        ts_ms=request.ts,
        model_version=model_version,
        policy=policy,
        reason=reason,
    )


def decision_of(catalog: Catalog, request: DecisionRequest, record: DecisionRecord) -> Decision:
    """The wire decision of a stored record (the same for a redelivered request)."""
    arm_id = record.arm_id
    arm = catalog.arm(arm_id) if arm_id is not None and arm_id in catalog else None
    return Decision(
        schema_version=SCHEMA_VERSION,
        event_id=record.decision_id,
        ts=request.ts,
        user_id=request.user_id,
        decision_id=record.decision_id,
        request_id=record.request_id,
        arm_id=arm_id,
        product_id=arm.product.product_id if arm else None,
        strategy_id=arm.strategy.strategy_id if arm else None,
        propensity=record.propensity,
        explored=record.explored,
        policy=record.policy,
        model_version=record.model_version,
        score=record.score,
        reason=record.reason,
    )


def as_logged(record: DecisionRecord, logged: LoggedChoice) -> DecisionRecord:
    """The pinned arm's decision as the other system logged it: its propensity (so that
    off-policy estimates of the replayed topics equal those of the log), its policy and
    model version (``"logged"`` when the log names none)."""
    explored = logged.propensity < 1.0 if logged.explored is None else logged.explored
    return msgspec.structs.replace(
        record,
        propensity=logged.propensity,
        explored=explored,
        policy=logged.policy or LOGGED_MARKER,
        model_version=logged.model_version or LOGGED_MARKER,
    )
