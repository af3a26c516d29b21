"""Strict decoding of wire events at the edge; failures are returned as data.

``decode_event`` never raises on bad input: it returns either a typed event or a
:class:`Rejection` whose ``reason`` is one of :data:`REJECTION_REASONS`.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from model.events import SCHEMA_VERSION, Conversion, DecisionRequest, Event, Impression

__all__ = [
    "EVENT_TYPES",
    "REJECTION_REASONS",
    "DeadLetter",
    "Rejection",
    "dead_letter_bytes",
    "decode_event",
]

EVENT_TYPES: dict[str, type[Event]] = {
    "decision-requests": DecisionRequest,
    "impressions": Impression,
    "conversions": Conversion,
}
_decoders = {kind: msgspec.json.Decoder(t) for kind, t in EVENT_TYPES.items()}

REJECTION_REASONS = (
    "empty",
    "oversized",
    "not_utf8",
    "malformed_json",
    "not_an_object",
    "unknown_schema_version",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "missing_key",
    "wrong_partition",
    "key_mismatch",
    "unknown_arm",
    "arm_mismatch",
    "unknown_conversion_kind",
    "orphan_unknown_decision",
    "orphan_no_impression",
    "orphan_no_nudge",
    "orphan_outside_window",
    "corrupt_state",
    "internal_error",
)


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


class _Versioned(msgspec.Struct):
    schema_version: Any = None


def decode_event(
    kind: str, raw: bytes | None, key: bytes | None, max_bytes: int
) -> Event | Rejection:
    """Decode ``raw`` from the topic of ``kind``; the key must equal the ``user_id``."""
    if not raw:
        return Rejection("empty", "message has no value")
    if len(raw) > max_bytes:
        return Rejection("oversized", f"{len(raw)} bytes > limit {max_bytes}")
    try:
        event = _decoders[kind].decode(raw)
    except msgspec.ValidationError as exc:
        return _classify(raw, str(exc))
    except msgspec.DecodeError as exc:
        return _undecodable(raw, str(exc))
    if event.schema_version != SCHEMA_VERSION:
        return Rejection("unknown_schema_version", f"schema_version {event.schema_version}")
    if key is not None and key != event.user_id.encode():
        return Rejection("key_mismatch", "message key differs from user_id")
    return event


def _classify(raw: bytes, message: str) -> Rejection:
    if message.startswith("Expected `object`") and " - at `$." not in message:
        return Rejection("not_an_object", message)
    version = msgspec.json.decode(raw, type=_Versioned).schema_version
    if version is not None and version != SCHEMA_VERSION:
        return Rejection("unknown_schema_version", f"schema_version {version!r}")
    if "missing required field" in message:
        return Rejection("missing_field", message)
    if ", got `" in message:
        return Rejection("wrong_type", message)
    return Rejection("invalid_value", message)


def _undecodable(raw: bytes, message: str) -> Rejection:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection("not_utf8", "value is not UTF-8")
    return Rejection("malformed_json", message)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """What the dead-letter topic holds: where the event came from, why, and its bytes."""

    schema_version: int = 1
    reason: str
    detail: str
    source_topic: str
    partition: int
    offset: int
    key: str | None
    original_base64: str
    dead_lettered_at_ms: int


def dead_letter_bytes(
    rejection: Rejection,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | None,
) -> bytes:
    letter = DeadLetter(
        reason=rejection.reason,
        detail=rejection.detail[:500],
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        original_base64=base64.b64encode(raw or b"").decode(),
        dead_lettered_at_ms=int(time.time() * 1000),
    )
    return msgspec.json.encode(letter)
