"""Edge decoding: every kind of bad input becomes a Rejection with its reason."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest

from model.events import Conversion, DecisionRequest, Impression
from streams.runtime.schemas import REJECTION_REASONS, Rejection, dead_letter_bytes, decode_event

LIMIT = 4096
VALID = {"schema_version": 1, "event_id": "e1", "ts": 1_760_000_000_000, "user_id": "u1"}


def raw(**fields: object) -> bytes:
    return json.dumps({**VALID, **fields}).encode()


def without(name: str) -> bytes:
    return json.dumps({k: v for k, v in VALID.items() if k != name}).encode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty"),
        (None, "empty"),
        (b"{" + b" " * LIMIT + b"}", "oversized"),
        (b"\xff\xfe{}", "not_utf8"),
        (b'{"schema_version": 1,', "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b"null", "not_an_object"),
        (raw(schema_version=2), "unknown_schema_version"),
        (raw(schema_version="1"), "unknown_schema_version"),
        (without("event_id"), "missing_field"),
        (without("schema_version"), "missing_field"),
        (raw(ts="noon"), "wrong_type"),
        (raw(context=[1]), "wrong_type"),
        (raw(ts=-1), "invalid_value"),
        (raw(user_id=""), "invalid_value"),
        (raw(candidates=[]), "invalid_value"),
    ],
)
def test_bad_requests_are_rejected_with_their_reason(value: bytes | None, reason: str) -> None:
    result = decode_event("decision-requests", value, b"u1", LIMIT)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert reason in REJECTION_REASONS


def test_key_must_be_the_user_id() -> None:
    result = decode_event("decision-requests", raw(), b"u2", LIMIT)
    assert result == Rejection("key_mismatch", "message key differs from user_id")


def test_valid_events_decode_to_their_types_and_ignore_unknown_fields() -> None:
    request = decode_event("decision-requests", raw(context={"age": 3}, extra=1), b"u1", LIMIT)
    assert request == DecisionRequest(**VALID, context={"age": 3})
    impression = decode_event("impressions", raw(decision_id="d", arm_id="a"), None, LIMIT)
    assert isinstance(impression, Impression)
    conversion = decode_event("conversions", raw(kind="click"), b"u1", LIMIT)
    assert isinstance(conversion, Conversion) and conversion.value == 1.0


def test_non_finite_conversion_value_is_refused() -> None:
    body = b'{"schema_version":1,"event_id":"e","ts":1,"user_id":"u1","kind":"click","value":1e999}'
    result = decode_event("conversions", body, b"u1", LIMIT)
    assert isinstance(result, Rejection) and result.reason == "invalid_value"


def test_dead_letter_keeps_source_position_and_original_bytes() -> None:
    original = b"\xff not json"
    letter = json.loads(dead_letter_bytes(Rejection("not_utf8", "x"), "t", 3, 42, b"u1", original))
    assert letter["source_topic"] == "t" and letter["partition"] == 3 and letter["offset"] == 42
    assert base64.b64decode(letter["original_base64"]) == original
    assert letter["reason"] == "not_utf8" and letter["key"] == "u1"


def test_decision_wire_form_has_every_contract_field() -> None:
    from model.bandit import EpsilonGreedy
    from model.catalog import load_catalog
    from model.engine import Engine
    from model.scoring import ConstantScorer
    from state import UserState

    engine = Engine(load_catalog(), EpsilonGreedy(), ConstantScorer())
    request = DecisionRequest(**VALID)
    decision = engine.step(UserState(), request).decision
    wire = msgspec.json.decode(msgspec.json.encode(decision))
    contract = {"schema_version", "event_id", "ts", "user_id", "decision_id", "request_id",
                "arm_id", "product_id", "strategy_id", "propensity", "explored", "policy",
                "model_version", "score"}  # fmt: skip
    assert contract <= wire.keys()
