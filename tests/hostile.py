"""A corpus of hostile events: every way a producer can break the contract, each with the
dead-letter reason it must get. Built for ``tests/integration/test_hostile.py``; each
event is a fresh user unless the kind needs an existing decision."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

T0 = 1_760_000_000_000
ARM = "savings_plan:default_option"


@dataclass(frozen=True)
class Hostile:
    kind: str  # the corpus kind's name
    topic: str  # decision-requests | impressions | conversions
    key: bytes | None
    value: bytes
    reason: str  # the dead-letter reason it must get
    partition: int | None = None  # produce here instead of the key's partition


def _request(user: str, **changes: Any) -> dict[str, Any]:
    event = {
        "schema_version": 1,
        "event_id": f"h-{user}",
        "ts": T0,
        "user_id": user,
        "context": {"age": 40, "risk_tolerance": 3},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not _DROP}


_DROP = object()


def _outcome(user: str, **changes: Any) -> dict[str, Any]:
    event = {"schema_version": 1, "event_id": f"h-{user}", "ts": T0, "user_id": user}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not _DROP}


def _j(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


Maker = Callable[[str], tuple[bytes | None, bytes]]


def _raw(value: bytes) -> Maker:
    return lambda user: (user.encode(), value)


def _req(**changes: Any) -> Maker:
    return lambda user: (user.encode(), _j(_request(user, **changes)))


def _imp(**changes: Any) -> Maker:
    def make(user: str) -> tuple[bytes | None, bytes]:
        fields = {"decision_id": "d-x", "arm_id": ARM, **changes}
        return user.encode(), _j(_outcome(user, **fields))

    return make


def _conv(**changes: Any) -> Maker:
    def make(user: str) -> tuple[bytes | None, bytes]:
        return user.encode(), _j(_outcome(user, **{"kind": "purchase", **changes}))

    return make


def _splice(user: str, inner: bytes) -> bytes:
    return b'{"schema_version":1,"event_id":"h-' + user.encode() + b'","ts":1760000000000,' + inner


REQUEST_KINDS: dict[str, tuple[Maker, str]] = {
    "empty": (_raw(b""), "empty"),
    "oversized": (_req(context={"pad": "x" * 200}, pad="y" * 70_000), "oversized"),
    "invalid_utf8": (_raw(b'{"schema_version":1,"event_id":"\xff\xfe"}'), "not_utf8"),
    "truncated_json": (_raw(b'{"schema_version": 1, "event_id": '), "malformed_json"),
    "json_array": (_raw(b"[1, 2, 3]"), "not_an_object"),
    "json_string": (_raw(b'"a request"'), "not_an_object"),
    "json_number": (_raw(b"42"), "not_an_object"),
    "json_null": (_raw(b"null"), "not_an_object"),
    "nested_5000_deep": (
        lambda u: (u.encode(), _splice(u, b'"deep":' + b"[" * 5000 + b"]" * 5000 + b"}")),
        "too_deep",
    ),
    "nan_literal": (
        lambda u: (u.encode(), _splice(u, b'"user_id":"' + u.encode() + b'","x":NaN}')),
        "malformed_json",
    ),
    "infinity_literal": (
        lambda u: (u.encode(), _splice(u, b'"user_id":"' + u.encode() + b'","x":Infinity}')),
        "malformed_json",
    ),
    "ts_float_1e29": (_req(ts=1.2e29), "wrong_type"),
    "ts_integer_1e30": (_req(ts=10**30), "invalid_value"),
    "ts_negative": (_req(ts=-5), "invalid_value"),
    "ts_before_2000": (_req(ts=631_152_000_000), "invalid_value"),
    "ts_after_2100": (_req(ts=4_200_000_000_000), "invalid_value"),
    "ts_string": (_req(ts="yesterday"), "wrong_type"),
    "event_id_missing": (_req(event_id=_DROP), "missing_field"),
    "event_id_empty": (_req(event_id=""), "invalid_value"),
    "event_id_300_chars": (_req(event_id="e" * 300), "invalid_value"),
    "event_id_number": (_req(event_id=7), "wrong_type"),
    "user_id_missing": (_req(user_id=_DROP), "missing_field"),
    "user_id_null": (_req(user_id=None), "wrong_type"),
    "key_not_user_id": (lambda u: (b"someone-else", _j(_request(u))), "key_mismatch"),
    "no_key": (lambda u: (None, _j(_request(u))), "missing_key"),
    "schema_version_2": (_req(schema_version=2), "unknown_schema_version"),
    "schema_version_string": (_req(schema_version="1"), "unknown_schema_version"),
    "schema_version_missing": (_req(schema_version=_DROP), "missing_field"),
    "context_list": (_req(context=[1, 2]), "wrong_type"),
    "context_nested_object": (_req(context={"a": {"b": 1}}), "wrong_type"),
    "context_huge_number": (_req(context={"income": 10**20}), "invalid_value"),
    "context_long_string": (_req(context={"region": "r" * 300}), "invalid_value"),
    "context_300_keys": (_req(context={f"k{i}": i for i in range(300)}), "invalid_value"),
    "candidates_empty": (_req(candidates=[]), "invalid_value"),
    "candidates_unknown_arm": (_req(candidates=["no:such_arm"]), "unknown_arm"),
    "candidates_not_a_list": (_req(candidates="all"), "wrong_type"),
    "touchpoint_number": (_req(touchpoint=3), "wrong_type"),
    "duplicate_keys": (
        lambda u: (u.encode(), _j(_request(u))[:-1] + b', "ts": 1760000000001}'),
        "duplicate_key",
    ),
    "lone_surrogate": (
        lambda u: (u.encode(), _j(_request(u))[:-1] + b', "touchpoint": "\\ud800"}'),
        "malformed_json",
    ),
    "byte_order_mark": (
        lambda u: (u.encode(), b"\xef\xbb\xbf" + _j(_request(u))),
        "malformed_json",
    ),
    "trailing_garbage": (lambda u: (u.encode(), _j(_request(u)) + b" }"), "malformed_json"),
    "utf16": (lambda u: (u.encode(), json.dumps(_request(u)).encode("utf-16")), "not_utf8"),
}
IMPRESSION_KINDS: dict[str, tuple[Maker, str]] = {
    "impression_unknown_arm": (_imp(arm_id="no:such_arm"), "unknown_arm"),
    "impression_unknown_decision": (_imp(), "orphan_impression_unknown_decision"),
    "impression_decision_id_number": (_imp(decision_id=5), "wrong_type"),
    "impression_arm_missing": (_imp(arm_id=_DROP), "missing_field"),
}
CONVERSION_KINDS: dict[str, tuple[Maker, str]] = {
    "conversion_unknown_kind": (_conv(kind="refund"), "unknown_conversion_kind"),
    "conversion_value_1e13": (_conv(value=1e13), "invalid_value"),
    "conversion_value_string": (_conv(value="ten"), "wrong_type"),
    "conversion_kind_number": (_conv(kind=1), "wrong_type"),
    "conversion_unknown_decision": (_conv(decision_id="d-x"), "orphan_unknown_decision"),
    "conversion_without_any_impression": (_conv(), "orphan_no_impression"),
}
TOPIC_KINDS = {
    "decision-requests": REQUEST_KINDS,
    "impressions": IMPRESSION_KINDS,
    "conversions": CONVERSION_KINDS,
}


def corpus(copies: int, wrong_partition: Callable[[bytes], int]) -> Iterator[Hostile]:
    """``copies`` events of every kind, round-robin over kinds, each from a new user;
    plus ``copies`` requests produced to a partition their key does not map to."""
    n = 0
    for copy in range(copies):
        for topic, kinds in TOPIC_KINDS.items():
            for name, (make, reason) in kinds.items():
                key, value = make(f"hostile-{name}-{copy}")
                yield Hostile(name, topic, key, value, reason)
                n += 1
        user = f"hostile-misplaced-{copy}"
        value = _j(_request(user))
        yield Hostile(
            "wrong_partition",
            "decision-requests",
            user.encode(),
            value,
            "wrong_partition",
            wrong_partition(user.encode()),
        )


def kind_count() -> int:
    return sum(len(kinds) for kinds in TOPIC_KINDS.values()) + 1  # + wrong_partition
