"""Typed events of the public wire contract (DESIGN §3).

These are plain value types; decoding and validation of bytes happens at the edge
(``streams.runtime.schemas``). Field names are the contract: do not rename them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "TS_MAX_MS",
    "TS_MIN_MS",
    "Conversion",
    "Decision",
    "DecisionRequest",
    "Event",
    "Impression",
    "LogEvent",
    "LoggedChoice",
]

SCHEMA_VERSION = 1

# Every field is bounded, so whatever the decoder accepts can be stepped and stored
# (msgpack holds 64-bit integers; arithmetic on timestamps and values stays finite).
# The wire edge also refuses event times before TS_MIN_MS (``streams.runtime.schemas``);
# logs and tests may use small synthetic times.
TS_MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
TS_MAX_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
CONTEXT_NUMBER_LIMIT = 1e15
ContextValue = (
    Annotated[float, msgspec.Meta(ge=-CONTEXT_NUMBER_LIMIT, le=CONTEXT_NUMBER_LIMIT)]
    | Annotated[int, msgspec.Meta(ge=-(10**15), le=10**15)]
    | Annotated[str, msgspec.Meta(max_length=256)]
    | bool
    | None
)
ContextKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
EpochMillis = Annotated[int, msgspec.Meta(ge=0, le=TS_MAX_MS)]


class _Envelope(msgspec.Struct, frozen=True, kw_only=True):
    schema_version: int
    event_id: NonEmpty
    ts: EpochMillis  # event time, epoch milliseconds
    user_id: NonEmpty


class LoggedChoice(msgspec.Struct, frozen=True, kw_only=True):
    """Another system's decision of a replayed request, as its log recorded it: the worker
    shows the request's one candidate and records these instead of its own policy's."""

    propensity: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
    policy: Annotated[str, msgspec.Meta(max_length=256)] = ""
    model_version: Annotated[str, msgspec.Meta(max_length=256)] = ""
    explored: bool | None = None  # None: propensity < 1


class DecisionRequest(_Envelope, frozen=True, kw_only=True, tag="decision-request"):
    context: Annotated[dict[ContextKey, ContextValue], msgspec.Meta(max_length=256)] = {}
    candidates: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=10_000)] | None = (
        None
    )
    touchpoint: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    logged: LoggedChoice | None = None  # a replayed decision of another system


class Impression(_Envelope, frozen=True, kw_only=True, tag="impression"):
    decision_id: NonEmpty
    arm_id: NonEmpty


class Conversion(_Envelope, frozen=True, kw_only=True, tag="conversion"):
    kind: NonEmpty
    value: Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)] = 1.0
    decision_id: NonEmpty | None = None


class Decision(_Envelope, frozen=True, kw_only=True, tag="decision"):
    """The answer to one request. ``arm_id`` is None when no nudge is shown (``reason``)."""

    decision_id: str
    request_id: str
    arm_id: str | None
    product_id: str | None
    strategy_id: str | None
    propensity: float
    explored: bool
    policy: str
    model_version: str
    score: float
    reason: str | None = None


Event = DecisionRequest | Impression | Conversion
LogEvent = DecisionRequest | Decision | Impression | Conversion
