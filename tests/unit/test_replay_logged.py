"""Another system's decisions replayed with their arm pinned keep the log's propensity:
the worker's decision records the logged propensity, policy and model version (a
marker when the log names none), so the topics it fills evaluate as the file does.
The worker is the pure engine here (what ``nudge worker`` steps), the topics a list."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from bench.logs import EXPORT_MAPPING, write_bandit_export
from model.catalog import load_catalog
from model.engine import LOGGED_MARKER, Outcome
from model.evaluation import estimate_ips, feedback_from_events
from model.events import Decision, DecisionRequest, LogEvent, LoggedChoice
from model.logs import ColumnMapping, read_csv
from model.loop import step_in_store
from state import InMemoryStore
from streams.apps.cli import main
from streams.apps.logged import as_logged, is_foreign
from streams.runtime.settings import Settings
from streams.runtime.wiring import build_engine


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[list[LogEvent], Path]:
    where = tmp_path_factory.mktemp("export")
    path, mapping, catalog = where / "x.csv", where / "map.json", where / "catalog.json"
    write_bandit_export(path, 900, "bts", seed=11)  # propensities differ from row to row
    mapping.write_text(json.dumps(EXPORT_MAPPING))
    argv = ["catalog", "--from-log", str(path), "--columns", str(mapping), "--out", str(catalog)]
    assert main(argv) == 0
    return list(read_csv(path, ColumnMapping.from_dict(EXPORT_MAPPING))), catalog


def _worker_topics(events: list[LogEvent], catalog: Path) -> list[LogEvent]:
    """What ``nudge replay --into kafka`` publishes (logged decisions the worker makes
    again are not) plus the decisions the worker emits."""
    engine, store = build_engine(Settings(), catalog=load_catalog(catalog)), InMemoryStore()
    topics: list[LogEvent] = []
    for event in as_logged(events):
        if isinstance(event, Decision):
            assert not is_foreign(event)  # KafkaReplay publishes only foreign decisions
            continue
        topics.append(event)
        result = step_in_store(engine, store, event)
        assert result.outcome is Outcome.APPLIED or result.decision is not None
        if result.decision is not None:
            topics.append(result.decision)
    return topics


def _ips(events: list[LogEvent], arms: list[str]) -> float:
    fb = feedback_from_events(events, arms)
    uniform = np.full((len(fb), fb.n_arms), 1.0 / fb.n_arms)
    rng = np.random.default_rng(0)
    return estimate_ips(fb.reward, fb.action, fb.pscore, uniform, rng, n_bootstrap=10).value


def test_pinned_decisions_carry_the_logged_propensity(export) -> None:
    events, catalog = export
    topics = _worker_topics(events, catalog)
    logged = {d.request_id: d for d in events if isinstance(d, Decision)}
    made = [d for d in topics if isinstance(d, Decision)]
    assert len(made) == len(logged) == 900
    for decision in made:
        source = logged[decision.request_id]
        assert decision.arm_id == source.arm_id
        assert decision.propensity == source.propensity < 1
        assert decision.explored == source.explored
        assert decision.policy == decision.model_version == LOGGED_MARKER  # the log names none
    assert len({d.propensity for d in made}) > 10


def test_the_replayed_topics_evaluate_as_the_file(export) -> None:
    events, catalog = export
    topics = _worker_topics(events, catalog)
    arms = sorted({d.arm_id for d in events if isinstance(d, Decision) and d.arm_id})
    file_fb, topic_fb = feedback_from_events(events, arms), feedback_from_events(topics, arms)
    assert len(topic_fb) == len(file_fb) == 900  # one decision per round, not two
    assert sorted(topic_fb.pscore) == sorted(file_fb.pscore)
    assert topic_fb.reward.sum() == file_fb.reward.sum() > 0
    assert _ips(topics, arms) == pytest.approx(_ips(events, arms), rel=1e-12)


def test_a_logged_decision_pins_exactly_one_arm(export) -> None:
    events, catalog = export
    engine = build_engine(Settings(), catalog=load_catalog(catalog))
    request = next(e for e in events if isinstance(e, DecisionRequest))
    arms = sorted({d.arm_id for d in events if isinstance(d, Decision) and d.arm_id})
    logged = LoggedChoice(propensity=0.25, policy="bts", model_version="v7")
    for candidates in (None, arms[:2]):
        pinned = msgspec.structs.replace(request, candidates=candidates, logged=logged)
        result = step_in_store(engine, InMemoryStore(), pinned)
        assert result.outcome is Outcome.REJECTED and result.reason == "invalid_value"
    one = msgspec.structs.replace(request, candidates=arms[:1], logged=logged)
    decision = step_in_store(engine, InMemoryStore(), one).decision
    assert decision is not None and decision.arm_id == arms[0]
    assert (decision.propensity, decision.policy, decision.model_version) == (0.25, "bts", "v7")
    assert decision.explored is True
