"""The one load -> step -> store loop: writes only what changed, never overwrites a
corrupt stored state, and is what the worker's processor and the offline runners use."""

from __future__ import annotations

from model.bandit import build_policy
from model.engine import Engine, Outcome
from model.loop import CORRUPT_STATE, step_in_store
from model.scoring import ConstantScorer
from state import InMemoryStore
from tests.fakes import Events, small_catalog


class CountingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def put_bytes(self, user_id: str, data: bytes) -> None:
        self.writes += 1
        super().put_bytes(user_id, data)


def engine() -> Engine:
    return Engine(small_catalog(), build_policy("uniform", {}), ConstantScorer())


def test_a_decision_is_stored_and_a_repeat_writes_nothing() -> None:
    store, events = CountingStore(), Events()
    request, source = events.request(), events.source("requests")
    first = step_in_store(engine(), store, request, source)
    assert first.outcome is Outcome.DECIDED and store.writes == 1
    again = step_in_store(engine(), store, request, source)  # a redelivery
    assert again.outcome is Outcome.DUPLICATE and store.writes == 1
    assert again.decision == first.decision
    assert store.get(request.user_id).decisions[-1].decision_id == first.decision.decision_id


def test_a_corrupt_state_is_refused_and_kept() -> None:
    store, events = CountingStore(), Events()
    store.put_bytes("u1", b"\x09not a state")
    result = step_in_store(engine(), store, events.request())
    assert result.outcome is Outcome.REJECTED and result.reason == CORRUPT_STATE
    assert store.get_bytes("u1") == b"\x09not a state" and store.writes == 1
