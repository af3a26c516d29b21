"""Two workers against one (same group, 4 partitions): start the workers on empty
topics, wait until the group is stable with every member, then load N requests and time
the sum of their decisions (same window). Also the worker latency phase's plumbing."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from bench.kafka import load
from bench.kafka.context import Bench
from bench.kafka.measure import poll_count
from bench.kafka.procs import workers
from bench.kafka.throughput import kind_total
from bench.timing import note

__all__ = ["group_members", "workers_rate"]


def group_members(bootstrap: str, group: str) -> int:
    """Members of ``group`` when it is stable with partitions assigned; else 0."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        found = admin.describe_consumer_groups([group])[group].result(10)
    except Exception:  # noqa: BLE001 - not there yet
        return 0
    if found.state != ConsumerGroupState.STABLE:
        return 0
    return sum(1 for m in found.members if m.assignment and m.assignment.topic_partitions)


def _wait_group(bootstrap: str, group: str, members: int, timeout: float) -> float:
    started = time.monotonic()
    while group_members(bootstrap, group) != members:
        if time.monotonic() - started > timeout:
            note(f"{group}: not stable with {members} members after {timeout:g} s; going on")
            break
        time.sleep(0.5)
    return time.monotonic() - started


def workers_rate(
    bench: Bench, engine: str, count: int, n: int, users: int, policy: str = "thompson"
) -> dict[str, Any]:
    """Decisions/s of ``count`` workers in one group; per-worker shares for the record."""
    names = bench.names(f"{engine}-x{count}")
    bench.topics(names, engine)

    def make(index: int) -> Any:
        env = bench.env(names, engine=engine, policy=policy, state_suffix=f"-{index}")
        return bench.worker(names, env, f"w{index}")

    with workers(make, count) as started:
        joined = _wait_group(bench.bootstrap, names.app_id, count, timeout=120)
        load.produce(
            bench.bootstrap, names.topic("decision-requests"), load.requests(n, users, "s")
        )

        def total() -> float:
            return sum(kind_total(w.consumed(), "decision-requests") for w in started)

        def alive() -> None:
            for w in started:
                w.check_alive()

        run = poll_count(total, n, f"{names.app_id} {count} worker(s)", alive=alive)
        shares = [int(kind_total(w.consumed(), "decision-requests")) for w in started]
    return {
        "decisions_per_second": run.rate,
        "seconds_to_stable_group": round(joined, 1),
        "per_worker": shares,
        "stalled": run.stalled,
        "machine_cores_busy": run.machine_cores_busy,
    }
