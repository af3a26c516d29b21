"""Decisions already sent out, taken back after a crash (``streams.runtime.recovery``,
``Engine.adopt``): a redelivered request keeps the decision users were shown, whatever
changed in between (here: the model that scored it)."""

from __future__ import annotations

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from model.bandit import build_policy
from model.engine import Engine, Outcome, Source
from model.events import Decision
from state import decode_state
from streams.runtime.holder import EngineHolder
from streams.runtime.metrics import Metrics
from streams.runtime.processor import EventProcessor
from streams.runtime.recovery import DecisionRecovery
from streams.runtime.settings import Settings
from tests.fakes import Events, TableScorer, small_catalog

REQUESTS = Source("decision-requests", 0, 7)


def _engines() -> tuple[Engine, Engine]:
    """Two engines that decide the same request differently (a model swapped between)."""
    catalog, policy = small_catalog(), build_policy("epsilon-greedy", {"epsilon": 0.0})
    before = Engine(catalog, policy, TableScorer({"savings:default": 0.9}, version="m1"))
    after = Engine(catalog, policy, TableScorer({"fund:peers": 0.9}, version="m2"))
    return before, after


def test_adopt_keeps_the_decision_sent_out_and_leaves_the_state_step_would_have() -> None:
    before, after = _engines()
    events = Events()
    request = events.request()
    first = before.step(decode_state(None), request, REQUESTS)
    again = after.step(decode_state(None), request, REQUESTS)
    assert first.decision is not None and again.decision is not None
    assert first.decision.arm_id != again.decision.arm_id  # re-deciding would differ

    adopted = after.adopt(decode_state(None), request, first.decision, REQUESTS)
    assert adopted.outcome is Outcome.DECIDED
    assert adopted.decision == first.decision
    assert adopted.state == first.state  # record, offsets: as if it had chosen so itself


def test_adopt_answers_a_redelivery_as_step_does_and_ignores_another_requests_decision() -> None:
    before, after = _engines()
    events = Events()
    request, other = events.request(), events.request()
    first = before.step(decode_state(None), request, REQUESTS)
    assert first.decision is not None
    redelivered = after.adopt(first.state, request, first.decision, REQUESTS)
    assert redelivered.outcome is Outcome.DUPLICATE and redelivered.decision == first.decision
    assert redelivered.state is first.state
    not_its_own = after.adopt(decode_state(None), other, first.decision, REQUESTS)
    assert not_its_own.decision is not None
    assert not_its_own.decision.request_id == other.event_id
    assert not_its_own.decision.model_version == "m2"


class FakePublished:
    """The end of a requests partition and the decisions partition's messages."""

    def __init__(self, end: int, decisions: list[bytes]) -> None:
        self.end, self.decisions = end, decisions
        self.asked: list[tuple[int, int]] = []
        self.broken = False

    def requests_end(self, partition: int) -> int:
        if self.broken:
            raise OSError("broker unreachable")
        return self.end

    def last_decisions(self, partition: int, count: int) -> list[bytes]:
        self.asked.append((partition, count))
        return self.decisions[-count:]


def _decision(decision_id: str) -> bytes:
    before, _ = _engines()
    events = Events()
    result = before.step(decode_state(None), events.request(), REQUESTS)
    assert result.decision is not None
    return msgspec.json.encode(msgspec.structs.replace(result.decision, decision_id=decision_id))


def test_recovery_reads_the_owed_tail_once_and_forgets_it_past_the_end() -> None:
    published = FakePublished(end=13, decisions=[_decision(f"d{i}") for i in range(20)])
    recovery = DecisionRecovery(published)
    table = recovery.advance(0, 10)  # a start: offsets 10, 11, 12 are owed
    assert published.asked == [(0, 3)]
    assert table is not None and set(table) == {"d17", "d18", "d19"}
    assert recovery.advance(0, 11) is table and recovery.reads == 1  # in order: no new read
    assert recovery.advance(0, 12) is table  # the last owed request still sees it
    assert recovery.advance(0, 13) is None  # past the end: dropped
    assert recovery.advance(0, 20) is None and recovery.reads == 2  # a jump: read again
    assert published.asked == [(0, 3)]  # nothing owed there: the decisions are not read


def test_recovery_reads_at_most_its_cap_and_survives_a_broken_reader() -> None:
    published = FakePublished(end=1_000, decisions=[_decision(f"d{i}") for i in range(50)])
    assert DecisionRecovery(published, cap=5).advance(1, 0) is not None
    assert published.asked == [(1, 5)]
    published.broken = True
    assert DecisionRecovery(published).advance(1, 0) is None  # decided again, as before


def test_recovery_skips_what_is_not_a_decision() -> None:
    published = FakePublished(end=2, decisions=[b"{not json", _decision("d1")])
    table = DecisionRecovery(published).advance(0, 0)
    assert table is not None and set(table) == {"d1"}


@pytest.mark.parametrize("guarantee", ["at-least-once", "exactly-once"])
def test_a_worker_after_a_crash_resends_the_decision_users_saw(guarantee: str) -> None:
    """Through ``EventProcessor``: a worker decides a request, crashes before its
    checkpoint (its state write is lost), and the request comes again to a worker whose
    model changed; at least once it takes the decision from the topic, exactly once (where
    the first decision was aborted, never seen) it decides."""
    settings = Settings(partitions=1, processing_guarantee=guarantee)
    before, after = _engines()
    events = Events()
    request = msgspec.json.encode(events.request())
    topic = settings.topic("decision-requests")

    first = EventProcessor(settings, EngineHolder(before), Metrics(CollectorRegistry()))
    _, sent = first.process(topic, 0, 4, b"u1", request, lambda: None)
    published = FakePublished(end=5, decisions=[sent[0].value])
    restarted = EventProcessor(
        settings, EngineHolder(after), Metrics(CollectorRegistry()), published=published
    )
    stored, again = restarted.process(topic, 0, 4, b"u1", request, lambda: None)
    decision = msgspec.json.decode(again[0].value, type=Decision)
    kept = decode_state(stored).decisions[-1]
    if guarantee == "at-least-once":
        assert again[0].value == sent[0].value
        assert (kept.arm_id, kept.model_version) == (decision.arm_id, "m1")
    else:
        assert restarted.recovery is None and published.asked == []
        assert decision.model_version == "m2" and again[0].value != sent[0].value
