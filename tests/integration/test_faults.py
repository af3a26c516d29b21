"""Faults as tests, as Kafka's system tests do it: a driver produces a known stream, the
system under test runs through crashes, a verifier checks the outcome exactly.

Two workers share the partitions of their own broker. The driver sends rounds of
requests, then an impression for every decision and a purchase for a seeded share, and
re-sends some of each at new offsets (a producer's retry). Between rounds: five worker
SIGKILLs in rotation (two restarts with the state directory wiped), a third worker joins
and leaves, and the broker is SIGKILLed and restarted. The verifier: every request has a
decision, every copy of a decision agrees on its id and arm, and every user's state in
the changelog equals exactly what was produced (nothing lost, nothing counted twice).
The workers run the default policy with the online model, whose refits (and its loss in
a crash) would change a redelivered request's decision but for the read-back.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.runtime.broker import LocalBroker, free_port
from streams.runtime.inspect import read_changelog
from streams.runtime.kafka import assign_from_beginning, make_consumer, make_producer
from streams.runtime.lag import wait_until_caught_up
from streams.runtime.settings import Settings
from streams.runtime.topics import create_topics
from tests.support import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_760_000_000_000
USERS = 300
ROUNDS = 8
PER_ROUND = 300


@dataclass
class Decisions:
    """Every decision message read from the topic, kept by request id (all copies)."""

    settings: Settings
    copies: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    stop: threading.Event = field(default_factory=threading.Event)

    def follow(self) -> None:
        consumer = make_consumer(self.settings)
        assign_from_beginning(consumer, [self.settings.topic("decisions")])
        try:
            while not self.stop.is_set():
                for message in consumer.consume(1000, timeout=0.5):
                    if message.error() is None:
                        decision = json.loads(message.value())
                        self.copies[decision["request_id"]].append(decision)
        finally:
            consumer.close()

    def wait_for(self, request_ids: list[str], timeout_seconds: float = 180) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            missing = [r for r in request_ids if r not in self.copies]
            if not missing:
                return
            time.sleep(0.3)
        raise TimeoutError(f"{len(missing)} requests without a decision, e.g. {missing[:3]}")


class Driver:
    """Produces the known stream and remembers what the state must become."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = make_producer(settings)
        self.rng = random.Random(42)
        self.expected: dict[str, Counter[str]] = defaultdict(Counter)
        self.sent: Counter[str] = Counter()

    def send(self, kind: str, event: dict[str, Any], retry_share: float = 0.1) -> None:
        copies = 2 if self.rng.random() < retry_share else 1  # a retry lands at a new offset
        for _ in range(copies):
            self.producer.produce(
                self.settings.topic(kind), key=event["user_id"], value=json.dumps(event)
            )
            self.sent[kind] += 1
        self.producer.poll(0)

    def requests(self, round_no: int) -> list[str]:
        ids = []
        for i in range(PER_ROUND):
            n = round_no * PER_ROUND + i
            user = f"user-{n % USERS}"
            event = {
                "schema_version": 1,
                "event_id": f"req-{n}",
                "ts": T0 + n * 1000,
                "user_id": user,
                "context": {"age": 20 + n % 50, "risk_tolerance": 4},
            }
            self.send("decision-requests", event)
            ids.append(event["event_id"])
        self.flush()
        return ids

    def outcomes(self, decisions: list[dict[str, Any]]) -> None:
        for d in decisions:
            if d["arm_id"] is None:
                continue
            base = {"schema_version": 1, "user_id": d["user_id"], "decision_id": d["decision_id"]}
            impression = {**base, "event_id": f"imp-{d['decision_id']}", "ts": d["ts"] + 10}
            self.send("impressions", {**impression, "arm_id": d["arm_id"]})
            self.expected[d["user_id"]][f"{d['arm_id']}/impressions"] += 1
            if self.rng.random() < 0.3:
                purchase = {**base, "event_id": f"buy-{d['decision_id']}", "ts": d["ts"] + 20}
                self.send("conversions", {**purchase, "kind": "purchase", "value": 1})
                self.expected[d["user_id"]][f"{d['arm_id']}/conversions"] += 1
        self.flush()

    def flush(self) -> None:
        if self.producer.flush(120) != 0:
            raise RuntimeError("the driver's events were not delivered within 120 s")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path / "broker", port=free_port())
    broker.start(timeout_seconds=120)
    try:
        yield broker
    finally:
        broker.stop()


def kill_broker(broker: LocalBroker) -> None:
    pid = broker.running_pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    while broker.running_pid() is not None:
        time.sleep(0.1)


def test_workers_and_broker_killed_lose_nothing_and_count_nothing_twice(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    settings = Settings(
        bootstrap_servers=own_broker.bootstrap_servers,
        app_id="faults",
        partitions=4,
        state_dir=tmp_path / "unused",
        model_dir=tmp_path / "models",
        # the default policy with the online model: refitted every few seconds and lost
        # with a crash, so a request redelivered after one would be decided otherwise
        # unless its decision is read back (streams.runtime.recovery)
        policy="thompson",
        online_model=True,
    )
    create_topics(settings)
    worker_settings = {name: settings.with_(state_dir=tmp_path / name) for name in "abc"}
    workers = {n: WorkerProcess(worker_settings[n], tmp_path / f"{n}.log") for n in "ab"}
    for worker in workers.values():
        worker.start()
    decisions = Decisions(settings)
    follower = threading.Thread(target=decisions.follow, daemon=True)
    follower.start()
    driver = Driver(settings)
    kills = wiped = 0
    chaos = [
        "kill a",
        "kill b wipe",
        "join c",
        "kill a wipe",
        "broker",
        "kill b",
        "leave c",
        "kill a",
    ]
    try:
        previous: list[str] = []
        for round_no in range(ROUNDS):
            ids = driver.requests(round_no)
            driver.outcomes([decisions.copies[r][0] for r in previous])
            step = chaos[round_no]
            if step == "broker":
                kill_broker(own_broker)
                time.sleep(5)  # an outage, with workers and the driver retrying
                own_broker.start(timeout_seconds=120)
            elif step == "join c":
                workers["c"] = WorkerProcess(worker_settings["c"], tmp_path / "c.log").start()
            elif step == "leave c":
                workers.pop("c").stop()
            else:
                name, wipe = step.split()[1], step.endswith("wipe")
                workers[name].kill()
                kills += 1
                if wipe:
                    shutil.rmtree(worker_settings[name].state_dir)
                    wiped += 1
                workers[name] = WorkerProcess(worker_settings[name], tmp_path / f"{name}.log")
                workers[name].start()
            decisions.wait_for(ids)
            previous = ids
        driver.outcomes([decisions.copies[r][0] for r in previous])
        wait_until_caught_up(settings, timeout_seconds=240)
    finally:
        decisions.stop.set()
        for worker in workers.values():
            worker.stop()
    follower.join(10)

    every_request = [f"req-{n}" for n in range(ROUNDS * PER_ROUND)]
    lost = [r for r in every_request if r not in decisions.copies]
    disagreeing = [
        r
        for r, copies in decisions.copies.items()
        if len({(c["decision_id"], c["arm_id"], c["propensity"]) for c in copies}) > 1
    ]
    states = read_changelog(settings)
    got = {
        user: Counter(
            {
                **{f"{arm}/impressions": int(s.impressions) for arm, s in state.arms.items()},
                **{f"{arm}/conversions": int(s.conversions) for arm, s in state.arms.items()},
            }
        )
        for user, state in states.items()
    }
    wrong_users = [u for u in driver.expected if +got.get(u, Counter()) != driver.expected[u]]
    doubled = sum(
        max(0, got.get(u, Counter())[k] - v)
        for u, c in driver.expected.items()
        for k, v in c.items()
    )
    missing = sum(
        max(0, v - got.get(u, Counter())[k])
        for u, c in driver.expected.items()
        for k, v in c.items()
    )
    print(
        f"\nfault suite: events sent {dict(driver.sent)}, worker SIGKILLs {kills} "
        f"({wiped} with the state dir wiped), broker SIGKILLs 1, a third worker joined "
        f"and left; requests {len(every_request)}, decisions lost {len(lost)}, "
        f"decisions disagreeing {len(disagreeing)}, outcome counts lost {missing}, "
        f"doubled {doubled}, users checked {len(driver.expected)}"
    )
    assert kills == 5 and wiped == 2
    assert lost == [] and disagreeing == []
    assert wrong_users == [] and missing == 0 and doubled == 0
