"""Whatever the wire decoder accepts can be stepped and stored (hypothesis over the
contract's fields, with values far outside what a sane producer sends)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.bandit import build_policy
from model.catalog import load_catalog
from model.engine import Engine, EngineConfig, Source
from model.loop import step_in_store
from model.scoring import ConstantScorer
from state import InMemoryStore, decode_state, encode_state
from streams.runtime.schemas import Rejection, decode_event

CATALOG = load_catalog()
ENGINE = Engine(
    CATALOG,
    build_policy("thompson", {}),
    ConstantScorer(),
    EngineConfig(half_life_seconds=3600.0),
)
WILD_INTS = st.integers(min_value=-(2**70), max_value=2**70)
WILD_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
TIMES = st.integers(min_value=9 * 10**11, max_value=4_200_000_000_000) | WILD_INTS
TEXT = st.text(max_size=40) | st.sampled_from(["", "u1", "x" * 300, "\u202e\u0000\U0001f600"])
SCALARS = st.none() | st.booleans() | WILD_INTS | WILD_FLOATS | TEXT
ARM = st.sampled_from(CATALOG.arm_ids[:5]) | TEXT


def envelope(kind_fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    common = {
        "schema_version": st.sampled_from([1, 1, 1, 2, "1", None]),
        "event_id": TEXT,
        "ts": TIMES,
        "user_id": st.just("u1") | TEXT,
    }
    return st.fixed_dictionaries({**common, **kind_fields}, optional={"extra": SCALARS})


REQUESTS = envelope(
    {
        "context": st.dictionaries(TEXT, SCALARS, max_size=5),
        "candidates": st.none() | st.lists(ARM, max_size=4),
    }
)
IMPRESSIONS = envelope({"decision_id": TEXT, "arm_id": ARM})
CONVERSIONS = envelope(
    {
        "kind": st.sampled_from(["purchase", "click", "dwell", "refund"]) | TEXT,
        "value": SCALARS,
        "decision_id": st.none() | TEXT,
    }
)
KINDS = {"decision-requests": REQUESTS, "impressions": IMPRESSIONS, "conversions": CONVERSIONS}


def to_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, allow_nan=True).encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(
        st.sampled_from(sorted(KINDS)).flatmap(lambda k: KINDS[k].map(lambda e: (k, e))),
        min_size=1,
        max_size=6,
    )
)
def test_every_accepted_event_steps_and_stores(events: list[tuple[str, dict[str, Any]]]) -> None:
    store = InMemoryStore()
    for offset, (kind, fields) in enumerate(events):
        raw = to_bytes(fields)
        key = (
            fields["user_id"].encode("utf-8", "surrogatepass")
            if isinstance(fields["user_id"], str)
            else None
        )
        event = decode_event(kind, raw, key, 64 * 1024)
        if isinstance(event, Rejection):
            continue
        result = step_in_store(ENGINE, store, event, Source(kind, 0, offset))
        again = decode_state(encode_state(result.state))
        assert again == result.state
        for stats in again.arms.values():
            assert all(
                math.isfinite(x) for x in (stats.impressions, stats.conversions, stats.reward_sum)
            )
