"""Another system's impression-level export replayed into the broker: a worker whose
catalog is derived from the log makes each logged decision again (pinned to the logged
arm, with the logged propensity: one decision per round in the topic), applies its
impressions and clicks, and replaying again (resumed from the checkpoint, or from
scratch) doubles nothing in the worker's state."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import numpy as np
import pytest

from bench.logs import EXPORT_MAPPING, write_bandit_export
from model.catalog import load_catalog
from model.evaluation import estimate_ips, feedback_from_events
from model.events import Conversion, Decision
from model.logs import ColumnMapping, read_csv
from model.replay import replay_offline
from state import InMemoryStore
from streams.apps.cli import main
from streams.apps.logged import as_logged
from streams.apps.training import read_topic_events
from streams.runtime.inspect import read_changelog
from streams.runtime.kafka import read_to_end
from streams.runtime.lag import wait_until_caught_up
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine
from tests.support import WorkerProcess, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 300


@contextmanager
def _environment(settings: Settings) -> Iterator[None]:
    """The in-process ``nudge replay`` reads the worker's settings from the environment."""
    env = {k: v for k, v in settings_env(settings).items() if k.startswith("NUDGE_")}
    os.environ.update(env)
    try:
        yield
    finally:
        for key in env:
            os.environ.pop(key, None)


def _replay(argv: list[str], checkpoint: Path, capsys) -> int:
    assert main([*argv, "--checkpoint", str(checkpoint)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("published ")
    return int(line.split()[1])


def _arms(users: dict) -> dict[str, dict]:
    return {user: dict(state.arms) for user, state in users.items() if state.arms}


def test_an_export_replayed_into_kafka_is_applied_once(
    kafka_settings: Settings, tmp_path: Path, capsys
) -> None:
    export, mapping, catalog = (tmp_path / n for n in ("x.csv", "map.json", "catalog.json"))
    write_bandit_export(export, ROWS, "random", seed=7)
    mapping.write_text(json.dumps(EXPORT_MAPPING | {"defaults": {"policy": "random"}}))
    derive = ["catalog", "--from-log", str(export), "--columns", str(mapping), "--out"]
    assert main([*derive, str(catalog)]) == 0
    settings = kafka_settings.with_(catalog_path=catalog)
    events = list(read_csv(export, ColumnMapping.from_dict(json.loads(mapping.read_text()))))
    clicks = sum(isinstance(e, Conversion) for e in events)
    published = len(events) - ROWS  # the worker makes the logged decisions again
    argv = ["replay", str(export), "--columns", str(mapping), "--into", "kafka", "--quiet"]
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        with _environment(settings):
            assert _replay(argv, tmp_path / "cp.json", capsys) == published
            wait_until_caught_up(settings, timeout_seconds=40)
            assert _replay(argv, tmp_path / "cp.json", capsys) == 0  # resumed: nothing left
            assert _replay(argv, tmp_path / "fresh.json", capsys) == published  # again
            wait_until_caught_up(settings, timeout_seconds=40)
    finally:
        worker.stop()
    applied = _arms(read_changelog(settings, timeout_seconds=20))
    offline = InMemoryStore()
    engine = build_engine(settings, catalog=load_catalog(catalog))
    replay_offline(as_logged(events), engine, offline)
    assert applied == _arms({u: offline.get(u) for u in offline.users()})
    stats = [s for arms in applied.values() for s in arms.values()]
    assert sum(s.impressions for s in stats) == ROWS and len(applied) == ROWS
    assert sum(s.reward_sum for s in stats) == pytest.approx(0.1 * clicks) and clicks > 0
    # One decision per round in the topic, the worker's, with the log's propensity.
    made = [
        msgspec.json.decode(m.value(), type=Decision)
        for m in read_to_end(settings, settings.topic("decisions"))
    ]
    logged = {e.request_id: e.propensity for e in events if isinstance(e, Decision)}
    assert {d.request_id: d.propensity for d in made} == logged
    assert len({d.decision_id for d in made}) == ROWS  # the rerun's answers repeat them
    arms = sorted({e.arm_id for e in events if isinstance(e, Decision) and e.arm_id})
    from_topics = feedback_from_events(read_topic_events(settings), arms)
    from_file = feedback_from_events(events, arms)
    assert len(from_topics) == len(from_file) == ROWS
    assert sorted(from_topics.pscore) == sorted(from_file.pscore)
    uniform = np.full((ROWS, len(arms)), 1 / len(arms))
    ips = [
        estimate_ips(fb.reward, fb.action, fb.pscore, uniform, np.random.default_rng(0)).value
        for fb in (from_topics, from_file)
    ]
    assert ips[0] == pytest.approx(ips[1], rel=1e-12) and ips[1] > 0
