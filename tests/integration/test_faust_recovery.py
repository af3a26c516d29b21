"""The Faust engine decides every request that waits while it recovers a large table.

faust-streaming skips (and acks) messages fetched during a table recovery and lets one
missing offset at the head of a partition be committed past; before
:class:`streams.runtime.ack_guard.AckGuard`, a worker recovering 100,000 users from its
changelog with 50 requests waiting on a new consumer group decided 48 or 49 of them in
each of three runs here and committed all 50 offsets; with 30,000 users (this test) it
decided 48. The scenario is the benchmark's
RSS run (``bench.kafka.memory.worker_rss``): the users' states written straight into the
table's changelog, the requests produced, then the worker started.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.kafka.context import Bench
from bench.kafka.memory import PROBES, worker_rss
from bench.kafka.procs import broker
from streams.runtime.kafka import read_topic
from streams.runtime.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = 30_000


def test_requests_waiting_during_a_large_recovery_are_all_decided(tmp_path: Path) -> None:
    with broker(tmp_path / "broker") as bootstrap:
        bench = Bench(bootstrap, tmp_path, partitions=4)
        report = worker_rss(bench, "faust", USERS)
        assert report["state_keys_reported"] == USERS  # the recovery was complete
        prefix = f"b0-faust-rss{USERS}."
        settings = Settings(bootstrap_servers=bootstrap, topic_prefix=prefix)
        decisions = read_topic(
            settings, f"{prefix}decisions", expect=PROBES, idle_seconds=3.0, timeout_seconds=60
        )
        answered = {json.loads(m.value())["request_id"] for m in decisions}
    assert len(answered) == PROBES, f"{PROBES - len(answered)} waiting requests never decided"
    assert report["probes_decided"] == PROBES
