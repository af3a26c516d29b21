"""Replay offline through the pure step, and the resumable publisher with a fake broker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

from model.bandit import build_policy
from model.catalog import load_catalog
from model.engine import Engine, decision_id_for
from model.events import Decision, DecisionRequest
from model.replay import replay_offline
from model.scoring import ConstantScorer
from model.simulator import Environment, UniformLogging, rounds_to_events, simulate_rounds
from state import InMemoryStore, RocksStore
from streams.apps.replay import KafkaReplay

TOPICS = {"decision-requests": "req", "impressions": "imp", "conversions": "conv"}


@pytest.fixture(scope="module")
def log() -> list:
    env = Environment.build(300, seed=2)
    return list(rounds_to_events(env, simulate_rounds(env, UniformLogging(), 1_500, seed=4)))


def _engine() -> Engine:
    return Engine(load_catalog(), build_policy("uniform"), ConstantScorer())


def _arms(store) -> dict:
    return {u: store.get(u).arms for u in store.users()}


def test_offline_replay_applies_every_event_and_finds_the_replay_sample(log, tmp_path) -> None:
    memory = InMemoryStore()
    summary = replay_offline(log, _engine(), memory)
    assert summary.events == len(log)
    applied = sum(summary.outcomes.values())
    assert applied == sum(not isinstance(e, Decision) for e in log)
    assert summary.outcomes[("decision-requests", "decided")] == 1_500
    # uniform engine vs uniform log: about 1 in 81 decisions match the logged arm
    assert summary.matched == summary.outcomes[("impressions", "applied")]
    assert 0 < summary.matched < 1_500 * 3 / 81
    rocks = RocksStore(tmp_path / "db", durable=False)
    replay_offline(log, _engine(), rocks)
    assert _arms(rocks) == _arms(memory)  # the same step, whatever the store
    rocks.close()


@dataclass
class FakeBroker:
    """Topics of 2 partitions keyed by hash; delivers on poll/flush like librdkafka."""

    topics: dict[str, dict[int, list[tuple[bytes, bytes]]]] = field(default_factory=dict)
    pending: list = field(default_factory=list)

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery) -> None:
        self.pending.append((topic, key, value, on_delivery))

    def poll(self, timeout: float) -> int:
        done, self.pending = self.pending, []
        for topic, key, value, callback in done:
            partition = sum(key) % 2
            log = self.topics.setdefault(topic, {}).setdefault(partition, [])
            log.append((key, value))
            callback(None, _Message(topic, partition, len(log) - 1))
        return len(done)

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return 0

    def values(self, topic: str) -> list[dict]:
        return [msgspec.json.decode(v) for p in self.topics.get(topic, {}).values() for _, v in p]

    def after(self, offsets: dict[str, dict[str, int]]) -> set[str]:
        found = set()
        for topic, parts in offsets.items():
            for partition, offset in parts.items():
                for _, value in self.topics[topic][int(partition)][offset:]:
                    found.add(msgspec.json.decode(value)["event_id"])
        return found


@dataclass(frozen=True)
class _Message:
    _topic: str
    _partition: int
    _offset: int

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


@dataclass
class FakeWorker:
    """Decides every request that reached the broker (the decisions topic of the test)."""

    broker: FakeBroker
    told: set[str] = field(default_factory=set)

    def decided(self) -> Iterator[str]:
        for request in self.broker.values("req"):
            decision_id = decision_id_for(request["event_id"])
            if decision_id not in self.told:
                self.told.add(decision_id)
                yield decision_id


def _replay(broker: FakeBroker, checkpoint: Path) -> KafkaReplay:
    return KafkaReplay(
        sink=broker,
        topics=TOPICS,
        checkpoint_path=checkpoint,
        already_published=broker.after,
        feed=FakeWorker(broker),
        batch_size=100,
    )


def _published_ids(broker: FakeBroker) -> list[str]:
    return [e["event_id"] for t in TOPICS.values() for e in broker.values(t)]


def test_interrupted_and_resumed_replay_publishes_each_event_once(log, tmp_path) -> None:
    broker, checkpoint = FakeBroker(), tmp_path / "ckpt.json"
    first = _replay(broker, checkpoint).run(log, max_events=1_234)
    assert 1_234 <= first < len(log)  # held events released at the stop may add a few
    second = _replay(broker, checkpoint).run(log)
    expected = [e.event_id for e in log if not isinstance(e, Decision)]
    assert sorted(_published_ids(broker)) == sorted(expected)
    assert first + second == len(expected)
    assert _replay(broker, checkpoint).run(log) == 0  # a repeated replay publishes nothing


def test_events_delivered_before_a_crash_are_not_sent_again(log, tmp_path) -> None:
    broker, checkpoint = FakeBroker(), tmp_path / "ckpt.json"
    _replay(broker, checkpoint).run(log, max_events=300)
    shutil.copy(checkpoint, tmp_path / "old.json")
    _replay(broker, checkpoint).run(log, max_events=500)
    shutil.copy(tmp_path / "old.json", checkpoint)  # crash: deliveries after it unrecorded
    _replay(broker, checkpoint).run(log)
    ids = _published_ids(broker)
    assert len(ids) == len(set(ids)) == sum(not isinstance(e, Decision) for e in log)


def test_per_user_order_and_outcomes_after_their_decision(log, tmp_path) -> None:
    broker = FakeBroker()
    order: list[tuple[str, str]] = []
    original = broker.produce

    def produce(topic, value, key, on_delivery):  # record the publication order
        order.append((topic, msgspec.json.decode(value)["event_id"]))
        original(topic, value, key, on_delivery)

    broker.produce = produce  # type: ignore[method-assign]
    _replay(broker, tmp_path / "c.json").run(log)
    position = {event_id: i for i, (_, event_id) in enumerate(order)}
    by_user: dict[str, list[int]] = {}
    for event in log:
        if not isinstance(event, Decision):
            by_user.setdefault(event.user_id, []).append(position[event.event_id])
        if isinstance(event, DecisionRequest):
            request_at = position[event.event_id]
            k = event.event_id.split("-r")[1]
            assert position[f"s4-i{k}"] > request_at
    assert all(p == sorted(p) for p in by_user.values())


def test_offline_replay_honours_max_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nudge replay --offline --max-events 10` replays 10 events, not the whole log."""
    from streams.apps.cli import main

    log = tmp_path / "sim.jsonl"
    assert (
        main(["simulate", "--out", str(log), "--users", "30", "--requests", "60", "--quiet"]) == 0
    )
    capsys.readouterr()
    assert main(["replay", str(log), "--offline", "--max-events", "10", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("replayed 10 events in ")
    assert main(["replay", str(log), "--offline", "--max-events", "0", "--quiet"]) == 2
    assert "--max-events must be >= 1" in capsys.readouterr().err
