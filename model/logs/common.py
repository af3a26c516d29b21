"""What every log format shares: the error, the columns, the event kinds and fields."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import msgspec.inspect

from model.events import (
    Conversion,
    Decision,
    DecisionRequest,
    Impression,
    LogEvent,
)


class LogFormatError(ValueError):
    """A log line or row (or a column mapping) is not valid; the message says where."""


LOG_COLUMNS = (
    "type",
    "schema_version",
    "event_id",
    "ts",
    "user_id",
    "context",
    "candidates",
    "touchpoint",
    "decision_id",
    "request_id",
    "arm_id",
    "product_id",
    "strategy_id",
    "propensity",
    "explored",
    "policy",
    "model_version",
    "score",
    "reason",
    "kind",
    "value",
)
JSON_COLUMNS = ("context", "candidates")

KINDS: dict[str, type[LogEvent]] = {
    "decision-request": DecisionRequest,
    "decision": Decision,
    "impression": Impression,
    "conversion": Conversion,
}


@dataclass(frozen=True)
class FieldInfo:
    name: str
    required: bool  # no default value
    nullable: bool
    blank_ok: bool  # a string that may be ""


def _fields_of(cls: type[LogEvent]) -> tuple[FieldInfo, ...]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return tuple(
        FieldInfo(
            f.name,
            f.required,
            isinstance(f.type, msgspec.inspect.UnionType) and f.type.includes_none,
            isinstance(f.type, msgspec.inspect.StrType) and not f.type.min_length,
        )
        for f in info.fields
    )


FIELDS = {kind: _fields_of(cls) for kind, cls in KINDS.items()}
INT_FIELDS = frozenset({"schema_version", "ts"})
FLOAT_FIELDS = frozenset({"propensity", "score", "value"})
BOOL_FIELDS = frozenset({"explored"})
TEXT_FIELDS = frozenset(LOG_COLUMNS) - INT_FIELDS - FLOAT_FIELDS - BOOL_FIELDS
TEXT_FIELDS -= {"type", *JSON_COLUMNS}
