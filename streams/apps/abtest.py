"""The A/B test behind ``nudge abtest``: rule-based (A) vs nudgeflow (B) on simulated users.

As the source paper did: the simulated users are split at random into two halves; group A
is served by the marketer's segment rules, group B by nudgeflow's bandit policy over a
model fitted on uniform-random history. Each user has ``sessions`` sessions a day apart;
in each, a decision request is answered, the nudge is shown (an impression) and, drawn
from the simulator's ground truth, it may be bought (a purchase conversion).

Two runners share one :class:`Experiment` (the world, the split, both groups' settings and
the outcome draws):

- :func:`run_offline`: both groups through the pure engine step with in-memory stores;
- :func:`run_kafka`: through Kafka and two real ``nudge worker`` processes, one per group
  (own topics, consumer group and RocksDB state each), started here; the broker is either
  started here too or an existing one.

User ``u``'s session ``k`` purchases when ``U[u, k] < p(u, arm)`` with ``U`` drawn once
from the seed, so the same decisions give the same purchases in either runner: with the
same engines and an order-independent policy, the runners agree user by user.

CR = users who purchased through a recommendation / users x 100, per group, with the
difference, the relative lift, a two-proportion z-test and a 95 % interval.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from tqdm import tqdm

from model.engine import Engine
from model.evaluation import ABResult, two_proportion_ztest
from model.events import Conversion, DecisionRequest, Event, Impression
from model.loop import step_in_store
from model.scoring import Scorer
from model.simulator import Environment
from state import InMemoryStore
from streams.apps.processes import Children
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine

__all__ = [
    "SCORERS",
    "AbConfig",
    "AbResult",
    "Experiment",
    "prepare",
    "run_kafka",
    "run_offline",
    "write_report",
]

SCORERS = ("segment", "two-tower")
T0_MS = 1_735_689_600_000  # the first session: 2025-01-01
SESSION_GAP_MS = 86_400_000  # sessions are a day apart
GROUPS = ("A", "B")


@dataclass(frozen=True)
class AbConfig:
    users: int = 20_000
    sessions: int = 1
    history: int = 100_000
    policy: str = "epsilon-greedy"
    policy_params: Mapping[str, Any] = field(default_factory=lambda: {"epsilon": 0.05})
    scorer: str = "segment"
    seed: int = 0
    model_dir: Path | None = None  # two-tower: reuse the newest artifact here, else train

    def __post_init__(self) -> None:
        if self.users < 2 or self.sessions < 1 or self.history < 1:
            raise ValueError("--users must be >= 2, --sessions >= 1 and --history >= 1")
        if self.scorer not in SCORERS:
            raise ValueError(f"--scorer must be one of {', '.join(SCORERS)}, got {self.scorer!r}")


@dataclass
class Experiment:
    """The world and both groups of one A/B test, the same for either runner."""

    config: AbConfig
    env: Environment
    in_b: np.ndarray  # bool (users,): the user is in group B (nudgeflow)
    uniforms: np.ndarray  # (users, sessions): a purchase when below the true probability
    settings: dict[str, Settings]  # group -> the settings its engine or worker runs with
    scorer_b: Scorer
    notes: list[str] = field(default_factory=list)

    def group(self, user: int) -> str:
        return "B" if self.in_b[user] else "A"

    def engines(self) -> dict[str, Engine]:
        catalog = self.env.catalog
        return {
            "A": build_engine(self.settings["A"], catalog=catalog),
            "B": build_engine(self.settings["B"], catalog=catalog, scorer=self.scorer_b),
        }

    def request(self, user: int, session: int) -> DecisionRequest:
        uid = self.env.user_id(user)
        return DecisionRequest(
            schema_version=1,
            event_id=f"ab{self.config.seed}-{uid}-{session}",
            ts=T0_MS + session * SESSION_GAP_MS,
            user_id=uid,
            context=self.env.context(user),
        )

    def outcome(
        self, user: int, session: int, request_id: str, decision_id: str, arm_id: str, ts: int
    ) -> tuple[bool, list[Event]]:
        """Show the nudge, and buy when the user's draw says so: (bought, events)."""
        uid = self.env.user_id(user)
        p = float(self.env.conversion_probability(user, arm_id)[0])
        bought = bool(self.uniforms[user, session] < p)
        events: list[Event] = [
            Impression(
                schema_version=1,
                event_id=f"{request_id}-i",
                ts=ts + 1,
                user_id=uid,
                decision_id=decision_id,
                arm_id=arm_id,
            )
        ]
        if bought:
            events.append(
                Conversion(
                    schema_version=1,
                    event_id=f"{request_id}-c",
                    ts=ts + 2,
                    user_id=uid,
                    kind="purchase",
                    decision_id=decision_id,
                )
            )
        return bought, events


@dataclass
class AbResult:
    """What each user was shown and bought, per session; ``None`` where no nudge."""

    arms: list[list[str | None]]
    bought: np.ndarray  # bool (users, sessions)
    through: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, users: int, sessions: int, through: str) -> AbResult:
        return cls(
            [[None] * sessions for _ in range(users)], np.zeros((users, sessions), bool), through
        )

    def test(self, in_b: np.ndarray) -> ABResult:
        converted = np.asarray(self.bought.any(axis=1))
        return two_proportion_ztest(
            int(converted[~in_b].sum()),
            int((~in_b).sum()),
            int(converted[in_b].sum()),
            int(in_b.sum()),
        )


def prepare(
    config: AbConfig, base: Settings, out_dir: Path, *, progress: bool = True
) -> Experiment:
    """Build the world, split it, fit group B's model on uniform-random history."""
    from model.simulator import UniformLogging, default_rules, simulate_rounds

    env = Environment.build(config.users, seed=config.seed)
    rng = np.random.default_rng([config.seed, 99])
    in_b = rng.permutation(config.users) < config.users // 2
    uniforms = rng.random((config.users, config.sessions))
    past = simulate_rounds(env, UniformLogging(), config.history, seed=config.seed + 1)
    notes: list[str] = []
    if config.scorer == "segment":
        from model.evaluation import SegmentRateModel

        scorer: Scorer = SegmentRateModel.fit(
            env.population.segment_names(past.users), past.arms, past.reward, env.arm_ids
        )
    else:
        scorer = _two_tower(config, env, past, out_dir, notes, progress)
    group = base.with_(catalog_path=None)
    rules = {"rules": default_rules(env)}
    settings = {  # A's model directory stays empty: the rules need no model
        "A": group.with_(policy="rule-based", policy_params=rules, model_dir=out_dir / "model-a"),
        "B": group.with_(policy=config.policy, policy_params=dict(config.policy_params)),
    }
    if config.scorer == "two-tower":
        settings["B"] = settings["B"].with_(model_dir=_model_dir(config, out_dir))
    return Experiment(config, env, in_b, uniforms, settings, scorer, notes)


def _model_dir(config: AbConfig, out_dir: Path) -> Path:
    return (config.model_dir or out_dir / "model").resolve()


def _two_tower(
    config: AbConfig, env: Environment, past: Any, out_dir: Path, notes: list[str], progress: bool
) -> Scorer:
    """The newest valid artifact of the model directory, trained on the history if none."""
    from model.simulator import rounds_to_events
    from model.twotower.artifact import newest_valid
    from model.twotower.scorer import TwoTowerScorer
    from model.twotower.train import TrainConfig
    from model.training import TrainOptions, train_round

    model_dir = _model_dir(config, out_dir)
    artifact, _ = newest_valid(model_dir)
    if artifact is None:
        model_dir.mkdir(parents=True, exist_ok=True)
        events = list(rounds_to_events(env, past))
        options = TrainOptions(train=TrainConfig(seed=config.seed))
        result = train_round(events, env.catalog, model_dir, options, progress=progress)
        if result.outcome != "published":
            raise RuntimeError(f"the two-tower model was not trained: {result.reason}")
        artifact, _ = newest_valid(model_dir)
        if artifact is None:
            raise RuntimeError(f"no valid model in {model_dir} after training")
        auc = (result.metrics or {}).get("auc")
        notes.append(
            f"two-tower {artifact.version} trained on the history (held-out AUC {auc:.3f})"
        )
    else:
        notes.append(f"two-tower {artifact.version} from {model_dir} (delete it to retrain)")
    return TwoTowerScorer(artifact, env.catalog)


def run_offline(experiment: Experiment, *, progress: bool = True) -> AbResult:
    """Every user's sessions through the pure engine step, one in-memory store per group."""
    config = experiment.config
    engines = experiment.engines()
    stores = {g: InMemoryStore() for g in GROUPS}
    result = AbResult.empty(config.users, config.sessions, "offline")
    started = time.perf_counter()
    total = config.users * config.sessions
    with tqdm(total=total, unit="session", disable=not progress, desc="A/B offline") as bar:
        for k in range(config.sessions):
            for user in range(config.users):
                g = experiment.group(user)
                engine, store = engines[g], stores[g]
                request = experiment.request(user, k)
                decision = step_in_store(engine, store, request).decision
                if decision is not None and decision.arm_id is not None:
                    bought, events = experiment.outcome(
                        user, k, request.event_id, decision.decision_id, decision.arm_id, request.ts
                    )
                    result.arms[user][k], result.bought[user, k] = decision.arm_id, bought
                    for event in events:
                        step_in_store(engine, store, event)
                bar.update(1)
    result.seconds = time.perf_counter() - started
    return result


def run_kafka(
    experiment: Experiment,
    base: Settings,
    out_dir: Path,
    *,
    start_broker: bool,
    progress: bool = True,
    stall_seconds: float = 120.0,
    keep_topics: bool = False,
) -> AbResult:
    """Both groups through Kafka and a real worker each. Starts a local broker when
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
        settings = _group_settings(experiment, base, out_dir)
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


def _group_settings(experiment: Experiment, base: Settings, out_dir: Path) -> dict[str, Settings]:
    """Each group's own topics, consumer group and state, unique to this run."""
    from streams.runtime.topics import create_topics

    run = uuid.uuid4().hex[:8]
    settings = {}
    for g in GROUPS:
        state_dir = out_dir / f"state-{g.lower()}"
        shutil.rmtree(state_dir, ignore_errors=True)
        settings[g] = (
            experiment.settings[g]
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
                    served[g][f"{decision['policy']} {decision.get('model_version')}"] += 1
                    arm = decision.get("arm_id")
                    if arm is not None:
                        bought, events = experiment.outcome(
                            user, k, decision["request_id"], decision["decision_id"], arm,
                            int(decision["ts"]),
                        )  # fmt: skip
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
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(user, decision) for each pending request, as the workers answer; a decision seen
    twice (redelivery) is yielded once. Raises when the workers stop answering."""
    last = time.monotonic()
    while pending:
        messages = consumer.consume(1000, timeout=0.2)
        for message in messages:
            value = message.value()
            if message.error() is not None or value is None:
                continue
            decision = json.loads(value)
            user = pending.pop(decision.get("request_id"), None)
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


def write_report(
    experiment: Experiment,
    result: AbResult,
    out_dir: Path,
    echo: Callable[[str], None] = print,
) -> ABResult:
    """report.md, report.html, result.json, sessions.csv and cr.png in ``out_dir``;
    prints the table."""
    config, r = experiment.config, result.test(experiment.in_b)
    lines = [
        f"# A/B test: rule-based (A) vs nudgeflow (B), simulated, {result.through}",
        "",
        f"users {config.users}, sessions per user {config.sessions}, history {config.history}, "
        f"nudgeflow policy {config.policy} {json.dumps(dict(config.policy_params))} over the "
        f"{config.scorer} model, seed {config.seed}",
        "",
        "| group | users | purchasers | CR % |",
        "|---|---:|---:|---:|",
        f"| A rule-based | {r.n_a} | {r.successes_a} | {100 * r.rate_a:.2f} |",
        f"| B nudgeflow | {r.n_b} | {r.successes_b} | {100 * r.rate_b:.2f} |",
        "",
        f"difference {100 * r.diff:+.2f} pp (95 % CI {100 * r.diff_low:+.2f} .. "
        f"{100 * r.diff_high:+.2f} pp), relative lift {100 * r.lift:+.1f} %, "
        f"z = {r.z:.2f}, two-sided p = {r.p_value:.3g}",
        "",
        *(f"- {note}" for note in [*experiment.notes, *result.notes]),
        f"- {config.users * config.sessions} sessions in {result.seconds:.1f} s",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    doc = {**r.__dict__, "through": result.through, "config": _jsonable(asdict(config))}
    (out_dir / "result.json").write_text(json.dumps(doc, indent=2))
    _write_sessions(out_dir / "sessions.csv", experiment, result)
    _plot(out_dir / "cr.png", r, result.through)
    from streams.apps.html_report import write_html_report

    write_html_report(out_dir / "report.html", "\n".join(lines), [out_dir / "cr.png"], lines[0][2:])
    echo("\n".join(lines[4:10]))
    echo(f"report: {out_dir / 'report.md'} (and report.html, with the plot)")
    return r


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _write_sessions(path: Path, experiment: Experiment, result: AbResult) -> None:
    with open(path, "w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["user_id", "group", "session", "arm_id", "purchased"])
        for user, arms in enumerate(result.arms):
            for k, arm in enumerate(arms):
                bought = int(result.bought[user, k])
                rows.writerow(
                    [experiment.env.user_id(user), experiment.group(user), k, arm or "", bought]
                )


def _plot(path: Path, r: ABResult, through: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    rates = np.array([r.rate_a, r.rate_b]) * 100
    errors = [
        1.96 * 100 * np.sqrt(p * (1 - p) / n) for p, n in ((r.rate_a, r.n_a), (r.rate_b, r.n_b))
    ]
    ax.bar(["A rule-based", "B nudgeflow"], rates, yerr=errors, capsize=6, color=["#999", "#2a7"])
    ax.set_ylabel("CR % (purchasers / users), 95 % CI")
    ax.set_title(f"{through}: lift {100 * r.lift:+.1f} %, p = {r.p_value:.2g}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
