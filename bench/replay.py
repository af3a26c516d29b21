"""Offline replay throughput: a simulator log through ``nudge replay --offline``'s code.

The log (requests, decisions, impressions, conversions of a uniform-random logging policy)
is built in memory as JSON lines, exactly the bytes ``nudge simulate --out x.jsonl`` would
write. Each run decodes them with the log decoder and feeds :func:`model.replay.
replay_offline` with the engine ``streams.runtime.wiring.build_engine`` builds and a fresh
:class:`state.InMemoryStore`, as ``nudge replay --offline`` does without ``--state-dir``
(only the file reading is left out). Baseline, same bytes: msgspec decode plus a plain
dict of per-user counters kept as msgpack bytes (requests: argmax over fixed scores and
a count; impressions and conversions: a count for the arm or the user).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from bench.timing import median_rate, rate_entry
from model.events import Conversion, Decision, DecisionRequest, Impression
from model.logs import decode_log_line, encode_log_line
from model.replay import ReplaySummary, replay_offline
from model.simulator import Environment, UniformLogging, rounds_to_events, simulate_rounds
from state import InMemoryStore
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine

__all__ = ["REPLAY_POLICIES", "bench_replay", "replay_once", "simulator_log"]

REPLAY_POLICIES = ("thompson", "epsilon-greedy")


def simulator_log(n_requests: int, n_users: int, seed: int = 0) -> list[bytes]:
    """JSON lines of a uniform-random log of ``n_requests`` rounds among ``n_users``."""
    env = Environment.build(n_users, seed=seed)
    rounds = simulate_rounds(env, UniformLogging(), n_requests, seed=seed)
    return [encode_log_line(event) for event in rounds_to_events(env, rounds)]


def replay_once(lines: list[bytes], policy: str) -> ReplaySummary:
    """One offline replay of ``lines`` with ``policy`` into a fresh in-memory store."""
    engine = build_engine(Settings(policy=policy))
    store = InMemoryStore()
    try:
        return replay_offline(map(decode_log_line, lines), engine, store)
    finally:
        store.close()


def _dict_replay(lines: list[bytes]) -> int:
    store: dict[str, bytes] = {}
    scores = np.full(81, 0.1)
    for line in lines:
        event = decode_log_line(line)
        if isinstance(event, Decision):
            continue
        counts = msgspec.msgpack.decode(store.get(event.user_id, b"\x80"))
        if isinstance(event, DecisionRequest):
            key = str(int(np.argmax(scores)))
        elif isinstance(event, Impression):
            key = event.arm_id
        else:
            assert isinstance(event, Conversion)
            key = event.kind
        counts[key] = counts.get(key, 0) + 1
        store[event.user_id] = msgspec.msgpack.encode(counts)
    return len(lines)


def bench_replay(
    n_requests: int, repeats: int, policies: tuple[str, ...] = REPLAY_POLICIES
) -> dict[str, Any]:
    """Log events per second (every kind counts, as ``nudge replay`` counts them)."""
    n_users = max(1, n_requests // 10)
    lines = simulator_log(n_requests, n_users)
    baseline = median_rate(lambda: _dict_replay(lines), repeats)
    report: dict[str, Any] = {
        "log": {
            "requests": n_requests,
            "events": len(lines),
            "users": n_users,
            "logging_policy": "uniform",
            "store": "in-memory",
        },
        "baseline": "msgspec decode + plain dict of msgpack counters",
        "policies": {},
    }
    for policy in policies:
        rate, summary = _replay_rate(lines, policy, repeats)
        entry: dict[str, Any] = rate_entry(rate, baseline)
        report["policies"][policy] = entry | {"matched_decisions": summary.matched}
    return report


def _replay_rate(lines: list[bytes], policy: str, repeats: int) -> tuple[float, ReplaySummary]:
    summaries: list[ReplaySummary] = []

    def run() -> int:
        summaries.append(replay_once(lines, policy))
        return summaries[-1].events

    return median_rate(run, repeats), summaries[-1]
