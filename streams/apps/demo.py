"""``nudge demo``: the whole loop on one machine, against simulated users with known truth.

Starts a local broker, creates the topics, starts workers (two by default, so partitions
are shared) and the periodic trainer, then drives simulated users: decision requests in,
decisions out, impressions and conversions drawn from the simulator's ground truth. Ends
with a report of nudgeflow's conversion rate over time against the rule-based and
uniform-random baselines and the oracle. Everything it started is stopped, also on Ctrl-C.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np
from tqdm import tqdm

from model.events import Decision, Event, Impression
from model.simulator import Environment, Traffic, build_logging_policy
from streams.apps.demo_report import Tally, write_report
from streams.apps.demo_services import Services
from streams.runtime.broker import free_port
from streams.runtime.kafka import assign_from_beginning, make_consumer, make_producer
from streams.runtime.settings import Settings

__all__ = ["DemoConfig", "run_demo", "run_live"]
T0_MS = 1_767_225_600_000  # simulated clock starts 2026-01-01


@dataclass(frozen=True)
class DemoConfig:
    out_dir: Path = Path(".nudge/demo")
    duration_seconds: float = 180.0
    requests_per_second: float = 100.0
    users: int = 3000
    seed: int = 7
    workers: int = 2
    partitions: int = 4
    policy: str = "thompson"
    # Trust the model's prior more than the library default: the demo retrains often.
    policy_params: dict[str, Any] = field(default_factory=lambda: {"prior_strength": 50.0})
    train_every_seconds: float = 40.0
    windows: int = 6
    # 0: a free port. Worker i serves /metrics on metrics_port + i.
    broker_port: int = 0
    controller_port: int = 0
    metrics_port: int = 0

    def worker_metrics_ports(self) -> list[int]:
        start = self.metrics_port
        return [start + i if start else free_port() for i in range(self.workers)]


class Driver:
    """Simulated users: sends requests at a steady rate, answers decisions with outcomes
    drawn from the ground truth, and writes every event to a JSONL log for the trainer."""

    def __init__(self, config: DemoConfig, settings: Settings, log: IO[bytes]) -> None:
        self.config, self.settings, self.log = config, settings, log
        self.env = Environment.build(config.users, seed=config.seed)
        self.traffic = Traffic(self.env, config.seed)
        self.encode = msgspec.json.Encoder().encode
        self.decode = msgspec.json.Decoder(Decision).decode
        self.baselines = {
            "rule-based": build_logging_policy("rule"),
            "uniform": build_logging_policy("uniform"),
        }
        self.producer = make_producer(settings)
        self.consumer = make_consumer(settings)
        assign_from_beginning(self.consumer, [settings.topic("decisions")])
        self.tally = Tally(config.windows, config.duration_seconds)
        self.window_of: dict[str, int] = {}
        self.sent = 0
        self.model_version = "?"
        # each run's ids are its own: a second run against the same topics must not be
        # answered with the first run's decisions (the worker dedupes by request id)
        self.run_tag = uuid.uuid4().hex[:8]

    def send(self, count: int, window: int, now_ms: int) -> None:
        users = self.traffic.draw_users(count)
        for user in users:
            event_id = f"demo-{self.run_tag}-{self.sent}"
            self._produce("decision-requests", self.traffic.request(int(user), event_id, now_ms))
            self.window_of[event_id] = window
            self.sent += 1
        self._expect_baselines(users, window)

    def _expect_baselines(self, users: np.ndarray, window: int) -> None:
        self.tally.requests[window] += len(users)
        for name, policy in self.baselines.items():
            value = self.env.policy_value(users, policy.action_dist(self.env, users))
            self.tally.expected[name][window] += value * len(users)
        self.tally.expected["oracle"][window] += self.env.best_arm(users)[1].sum()

    def answer(self, now_ms: int) -> int:
        """Read decisions; show each (impression) and maybe convert (purchase)."""
        messages = self.consumer.consume(1000, timeout=0.05)
        for message in messages:
            value = message.value()
            if message.error() is None and value is not None:
                self._outcome(self.decode(value), value, now_ms)
        return len(messages)

    def _outcome(self, decision: Decision, line: bytes, now_ms: int) -> None:
        self.log.write(line + b"\n")
        window = self.window_of.pop(decision.request_id, None)
        if window is None or decision.arm_id is None:
            return
        user, arm, decision_id = decision.user_id, decision.arm_id, decision.decision_id
        self.tally.decisions[window] += 1
        self.tally.expected["nudgeflow"][window] += self.traffic.purchase_probability(user, arm)
        bought = self.traffic.buys(user, arm)
        self.tally.purchases[window] += bought
        for event in self.traffic.outcome(
            user,
            decision_id,
            arm,
            bought=bought,
            event_ids=(f"imp-{decision_id}", f"buy-{decision_id}"),
            ts_ms=(now_ms, now_ms + 1),
        ):
            self._produce("impressions" if isinstance(event, Impression) else "conversions", event)

    def _produce(self, kind: str, event: Event) -> None:
        line = self.encode(event)
        self.log.write(line + b"\n")
        self.producer.produce(self.settings.topic(kind), key=event.user_id.encode(), value=line)
        self.producer.poll(0)

    def close(self) -> None:
        self.producer.flush(10)
        self.consumer.close()


def _drive(
    config: DemoConfig,
    settings: Settings,
    services: Services | None,
    log: IO[bytes],
    max_requests: int | None = None,
) -> Tally:
    """Send requests at the configured rate for the configured time (or ``max_requests``),
    answer every decision, then wait briefly for the last ones."""
    driver = Driver(config, settings, log)
    started = time.monotonic()
    bar = tqdm(
        total=int(config.duration_seconds),
        unit="s",
        desc="live traffic",
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}s {postfix}",
    )
    try:
        while (elapsed := time.monotonic() - started) < config.duration_seconds and (
            max_requests is None or driver.sent < max_requests or driver.window_of
        ):
            now_ms = T0_MS + int(elapsed * 1000) * 60  # one real second = one simulated minute
            due = int(elapsed * config.requests_per_second) - driver.sent
            if max_requests is not None:
                due = min(due, max_requests - driver.sent)
            if due > 0:
                driver.send(due, driver.tally.window(elapsed), now_ms)
            driver.answer(now_ms)
            if int(elapsed) > bar.n:
                _progress(bar, driver, services, int(elapsed))
            if services is not None and not services.alive():
                raise RuntimeError(f"a demo process died; see logs in {config.out_dir}")
        _drain(driver, T0_MS + int(config.duration_seconds * 60_000))
    finally:
        bar.close()
        driver.close()
    return driver.tally


def _progress(bar: tqdm, driver: Driver, services: Services | None, second: int) -> None:
    decided = int(driver.tally.decisions.sum())
    bought = int(driver.tally.purchases.sum())
    if second % 5 == 0 and services is not None:
        driver.model_version = services.model_version()
        driver.tally.note_model(second, driver.model_version)
    version = driver.model_version
    bar.set_postfix_str(
        f"requests={driver.sent} decisions={decided} purchases={bought} "
        f"CR={100 * bought / max(decided, 1):.1f}% model={version}"
    )
    bar.update(second - bar.n)


def _drain(driver: Driver, now_ms: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while driver.window_of and time.monotonic() < deadline:
        driver.answer(now_ms)


def run_demo(config: DemoConfig) -> str:
    """Run the demo; returns the report text. Files land in ``config.out_dir``."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    port = config.broker_port or free_port()
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{port}",
        partitions=config.partitions,
        app_id="nudgeflow-demo",
        model_dir=config.out_dir / "models",
        policy=config.policy,
        policy_params=config.policy_params,
    )
    services = Services(config, settings, port)
    log_path = config.out_dir / "events.jsonl"
    try:
        print(f"starting Kafka on {settings.bootstrap_servers}, {config.workers} workers, trainer")
        notes = services.start(log_path)
        with open(log_path, "wb", buffering=1 << 16) as log:
            tally = _drive(config, settings, services, log)
    finally:
        print("stopping workers, trainer and broker")
        services.close()
    notes.append(f"files: {config.out_dir}/report.md, conversion_rate.png, events.jsonl, *.log")
    return write_report(tally, config.out_dir, notes)


def run_live(settings: Settings, config: DemoConfig, max_requests: int | None = None) -> str:
    """Drive simulated users against an already running broker and workers (no services
    are started). Writes the same report and event log as the demo into ``out_dir``."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    with open(config.out_dir / "events.jsonl", "wb", buffering=1 << 16) as log:
        tally = _drive(config, settings, None, log, max_requests)
    notes = [f"files: {config.out_dir}/report.md, conversion_rate.png, events.jsonl"]
    return write_report(tally, config.out_dir, notes)
