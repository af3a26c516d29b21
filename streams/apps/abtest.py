"""The A/B test behind ``nudge abtest``, driven: engines from settings, Kafka and workers.

The experiment itself (world, split, outcome draws, the offline runner) is
:mod:`model.simulator.abtest`; this module gives each group its settings and engine, and
runs the experiment through Kafka and two real ``nudge worker`` processes, one per group
(own topics, consumer group and RocksDB state each), started here; the broker is either
started here too or an existing one. The report is :mod:`streams.apps.abtest_report`.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from tqdm import tqdm

from model.engine import Engine
from model.events import Decision, Event, Impression
from model.simulator.abtest import GROUPS, AbResult, Experiment
from streams.apps.processes import Children
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine

__all__ = ["group_settings", "group_engines", "run_kafka"]


def group_settings(experiment: Experiment, base: Settings, out_dir: Path) -> dict[str, Settings]:
    """The settings each group's engine or worker runs with: A the segment rules (its
    model directory stays empty: the rules need no model), B nudgeflow's policy."""
    from model.simulator import default_rules

    config = experiment.config
    group = base.with_(catalog_path=None)
    rules = {"rules": default_rules(experiment.env)}
    settings = {
        "A": group.with_(policy="rule-based", policy_params=rules, model_dir=out_dir / "model-a"),
        "B": group.with_(policy=config.policy, policy_params=dict(config.policy_params)),
    }
    if config.scorer == "two-tower":
        settings["B"] = settings["B"].with_(model_dir=config.model_dir_in(out_dir))
    return settings


def group_engines(experiment: Experiment, settings: dict[str, Settings]) -> dict[str, Engine]:
    """Each group's engine, as its worker would build it; B's scorer is the experiment's."""
    catalog = experiment.env.catalog
    return {
        "A": build_engine(settings["A"], catalog=catalog),
        "B": build_engine(settings["B"], catalog=catalog, scorer=experiment.scorer_b),
    }


def run_kafka(
    experiment: Experiment,
    groups: dict[str, Settings],
    base: Settings,
    out_dir: Path,
    *,
    start_broker: bool,
    progress: bool = True,
    stall_seconds: float = 120.0,
    keep_topics: bool = False,
) -> AbResult:
    """Both groups (``groups``: :func:`group_settings`) through Kafka and a real worker
    each. Starts a local broker when
    ``start_broker`` (else uses ``base.bootstrap_servers``, and deletes the run's topics
    afterwards unless ``keep_topics``); stops what it started."""
    from streams.runtime.broker import LocalBroker, free_port
    from streams.runtime.kafka import require_broker

    broker = None
    if not start_broker:
        require_broker(base)
    if start_broker:
        port = free_port()
        broker = LocalBroker(out_dir / "broker", port=port)
        base = base.with_(bootstrap_servers=f"127.0.0.1:{port}")
    children = Children(out_dir, log_level="info")  # the logs explain a stalled run
    settings: dict[str, Settings] = {}
    try:
        if broker is not None:
            broker.start()
        settings = _group_settings(groups, base, out_dir)
        result = _drive_kafka(experiment, settings, children, progress, stall_seconds)
    finally:
        children.close()
        if broker is not None:
            broker.stop()
        elif not keep_topics:
            from streams.runtime.topics import delete_app_topics

            for group in settings.values():
                delete_app_topics(group)
    where = "a broker started here" if broker is not None else base.bootstrap_servers
    kept = "" if broker is not None or keep_topics else ", deleted after the run"
    result.notes.append(
        f"through Kafka ({where}): topics {settings['A'].topic_prefix}* (A) and "
        f"{settings['B'].topic_prefix}* (B){kept}, one worker per group; logs in {out_dir}"
    )
    return result


def _group_settings(
    groups: dict[str, Settings], base: Settings, out_dir: Path
) -> dict[str, Settings]:
    """Each group's own topics, consumer group and state, unique to this run."""
    from streams.runtime.topics import create_topics

    run = uuid.uuid4().hex[:8]
    settings = {}
    for g in GROUPS:
        state_dir = out_dir / f"state-{g.lower()}"
        shutil.rmtree(state_dir, ignore_errors=True)
        settings[g] = (
            groups[g]
            .with_connection_of(base)
            .with_(
                partitions=base.partitions,
                topic_prefix=f"{base.topic_prefix}abtest-{run}-{g.lower()}.",
                app_id=f"{base.app_id}-abtest-{run}-{g.lower()}",
                state_dir=state_dir,
            )
        )
        create_topics(settings[g])
    return settings


def _drive_kafka(
    experiment: Experiment,
    settings: dict[str, Settings],
    children: Children,
    progress: bool,
    stall_seconds: float,
) -> AbResult:
    from streams.runtime.broker import free_port
    from streams.runtime.kafka import assign_from_beginning, make_consumer, make_producer
    from streams.runtime.lag import wait_until_caught_up

    config = experiment.config
    for g in GROUPS:
        port = str(free_port())
        args = ["worker", "--state-dir", str(settings[g].state_dir), "--metrics-port", port]
        children.spawn(args, settings[g], f"worker-{g.lower()}.log")
    producer = make_producer(settings["A"])
    consumer = make_consumer(settings["A"])
    assign_from_beginning(consumer, [settings[g].topic("decisions") for g in GROUPS])
    result = AbResult.empty(config.users, config.sessions, "kafka")
    served: dict[str, Counter[str]] = {g: Counter() for g in GROUPS}
    encode = msgspec.json.Encoder().encode

    def produce(kind: str, event: Event, group: str) -> None:
        topic = settings[group].topic(kind)
        producer.produce(topic, key=event.user_id.encode(), value=encode(event))
        producer.poll(0)

    started = time.perf_counter()
    total = config.users * config.sessions
    try:
        with tqdm(total=total, unit="decision", disable=not progress, desc="A/B Kafka") as bar:
            for k in range(config.sessions):
                pending: dict[str, int] = {}
                for user in range(config.users):
                    request = experiment.request(user, k)
                    pending[request.event_id] = user
                    produce("decision-requests", request, experiment.group(user))
                producer.flush(30)
                for user, decision in _decisions(
                    consumer, pending, children, stall_seconds, experiment.group
                ):
                    g = experiment.group(user)
                    served[g][f"{decision.policy} {decision.model_version}"] += 1
                    arm = decision.arm_id
                    if arm is not None:
                        bought, events = experiment.outcome(
                            user, k, decision.request_id, decision.decision_id, arm, decision.ts
                        )
                        result.arms[user][k], result.bought[user, k] = arm, bought
                        for event in events:
                            kind = "impressions" if isinstance(event, Impression) else "conversions"
                            produce(kind, event, g)
                    bar.update(1)
                if producer.flush(30) != 0:
                    raise RuntimeError("outcomes not delivered to Kafka within 30 s")
                if k + 1 < config.sessions:  # the next session sees this one's outcomes
                    for g in GROUPS:
                        wait_until_caught_up(settings[g], ("impressions", "conversions"))
    finally:
        consumer.close()
    result.seconds = time.perf_counter() - started
    for g in GROUPS:
        served_by = ", ".join(f"{n} x {what}" for what, n in served[g].most_common())
        result.notes.append(f"group {g} decisions served by: {served_by}")
    return result


def _decisions(
    consumer: Any,
    pending: dict[str, int],
    children: Children,
    stall_seconds: float,
    group_of: Callable[[int], str],
) -> Iterator[tuple[int, Decision]]:
    """(user, decision) for each pending request, as the workers answer; a decision seen
    twice (redelivery) is yielded once. Raises when the workers stop answering."""
    decode = msgspec.json.Decoder(Decision).decode
    last = time.monotonic()
    while pending:
        messages = consumer.consume(1000, timeout=0.2)
        for message in messages:
            value = message.value()
            if message.error() is not None or value is None:
                continue
            decision = decode(value)
            user = pending.pop(decision.request_id, None)
            if user is not None:
                last = time.monotonic()
                yield user, decision
        if not children.alive():
            raise RuntimeError("a worker exited; see worker-*.log in the output folder")
        if time.monotonic() - last > stall_seconds:
            waiting = Counter(group_of(user) for user in pending.values())
            raise RuntimeError(
                f"no decision for {stall_seconds:g} s with {len(pending)} requests unanswered "
                f"({', '.join(f'group {g}: {n}' for g, n in sorted(waiting.items()))}); "
                "see worker-*.log in the output folder"
            )
