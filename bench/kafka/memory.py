"""Worker memory with many users in state: VmRSS of the worker and its children.

Pre-loading 10^6 users through the worker would take longer than the whole benchmark,
so the users' state goes straight into the state changelog (what the worker writes for
each user, one realistic value: a decision, its impression and a purchase), and the
worker recovers it on start. Then a few probe requests for existing users; once they
are decided the store is open and RSS is sampled. Baseline: the same with no users.
The changelog's name and format are the engine's: engines without a known format are
skipped (reported as such).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.kafka import load
from bench.kafka.context import Bench
from bench.kafka.measure import poll_count
from bench.kafka.procs import rss_bytes, scrape, workers
from bench.kafka.throughput import kind_total
from bench.timing import note
from streams.runtime.inspect import quix_changelog_topic, quix_state_key
from streams.runtime.settings import Settings

__all__ = ["CHANGELOGS", "worker_rss"]

PROBES = 50
_STATE_KEYS = re.compile(r"^nudge_state_keys\s+([0-9.eE+-]+)", re.MULTILINE)


@dataclass(frozen=True)
class Changelog:
    """Where and how an engine's state changelog holds a user's state."""

    topic: Callable[[Settings], str]
    key: Callable[[str], bytes]
    headers: list[tuple[str, bytes]]


CHANGELOGS = {
    "faust": Changelog(lambda s: s.changelog_topic, str.encode, []),
    # Quix Streams: "<user>|\"s\"" keys, the column family in a header (its recovery needs it)
    "quix": Changelog(quix_changelog_topic, quix_state_key, [("__column_family__", b"default")]),
}


def user_state_bytes() -> bytes:
    """One user's stored state after a decision, its impression and a purchase."""
    from model.bandit import build_policy
    from model.catalog import load_catalog
    from model.engine import Engine, Source
    from model.events import Conversion, DecisionRequest, Impression
    from model.scoring import ConstantScorer
    from state import UserState, encode_state

    engine = Engine(load_catalog(), build_policy("thompson", {}), ConstantScorer())
    ts = int(time.time() * 1000)
    request = DecisionRequest(
        schema_version=1, event_id="r", ts=ts, user_id="u", context=dict(load.CONTEXT)
    )
    step = engine.step(UserState(), request, Source("p.decision-requests", 0, 0))
    decision = step.decision
    assert decision is not None and decision.arm_id is not None
    impression = Impression(
        schema_version=1, event_id="i", ts=ts, user_id="u",
        decision_id=decision.decision_id, arm_id=decision.arm_id,
    )  # fmt: skip
    state = engine.step(step.state, impression, Source("p.impressions", 0, 0)).state
    conversion = Conversion(
        schema_version=1, event_id="c", ts=ts, user_id="u", kind="purchase",
        value=1, decision_id=decision.decision_id,
    )  # fmt: skip
    return encode_state(engine.step(state, conversion, Source("p.conversions", 0, 0)).state)


def _states(users: int, key: Callable[[str], bytes]) -> Iterator[tuple[bytes, bytes]]:
    value = user_state_bytes()
    return ((key(f"u{i}"), value) for i in range(users))


def _state_keys(port: int) -> float:
    try:
        found = _STATE_KEYS.search(scrape(port))
    except OSError:
        return 0.0
    return float(found[1]) if found else 0.0


def worker_rss(bench: Bench, engine: str, users: int) -> dict[str, Any]:
    """RSS of one worker whose state holds ``users`` users (0 = the empty baseline)."""
    if engine not in CHANGELOGS:
        return {"skipped": f"no state pre-load for engine {engine!r} yet"}
    names = bench.names(f"{engine}-rss{users}")
    env = bench.env(names, engine=engine)
    bench.topics(names, engine)
    started = time.perf_counter()
    if users:
        changelog = CHANGELOGS[engine]
        settings = Settings.from_env(env)
        topic = bench.extra_topic(changelog.topic(settings), config={"cleanup.policy": "compact"})
        states = _states(users, changelog.key)
        load.produce(bench.bootstrap, topic, states, headers=changelog.headers)
    preload_seconds = time.perf_counter() - started
    probes = load.requests(PROBES, min(PROBES, max(users, 1)), "m")
    load.produce(bench.bootstrap, names.topic("decision-requests"), probes)
    with workers(lambda _: bench.worker(names, env, "rss"), 1) as (worker,):
        started = time.perf_counter()
        run = poll_count(
            lambda: kind_total(worker.consumed(), "decision-requests"),
            PROBES,
            f"{names.app_id} recovery of {users} users",
            stall_seconds=600,  # Faust recovers ~4k users/s on 2 busy cores
            alive=worker.check_alive,
        )
        ready_seconds = time.perf_counter() - started
        probes_decided = int(worker.consumed().get(("decision-requests", "decided"), 0))
        note(f"{names.app_id}: probes decided after {ready_seconds:.1f} s; sampling RSS")
        keys, samples = 0.0, []
        deadline = time.monotonic() + 12  # the worker counts its keys every 10 s
        while time.monotonic() < deadline:
            samples.append(rss_bytes(worker.pid))
            keys = _state_keys(worker.metrics_port)
            if keys >= max(users, PROBES) * 0.9 and len(samples) >= 10:
                break
            time.sleep(0.2)
    return {
        "users": users,
        "rss_mib": round(max(samples) / 2**20, 1),
        "state_keys_reported": int(keys),
        "probes": PROBES,
        "probes_decided": probes_decided,
        "preload_seconds": round(preload_seconds, 1),
        "seconds_to_first_decisions": round(ready_seconds, 1),
        "stalled": run.stalled,
    }
