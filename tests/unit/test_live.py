"""Run-time engine changes: pooled statistics and catalog reloads (no broker)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from model.bandit import build_policy
from model.catalog import load_catalog
from model.engine import Engine, Source
from model.events import DecisionRequest, Impression
from model.scoring import ConstantScorer
from state import ArmStats, UserState
from streams.runtime.holder import EngineHolder
from streams.runtime.live import CatalogWatch, PopulationTally
from streams.runtime.metrics import Metrics


def test_population_sums_each_events_change_per_arm() -> None:
    engine = Engine(load_catalog(), build_policy("epsilon-greedy", {}), ConstantScorer())
    tally = PopulationTally()
    arm = engine.catalog.arm_ids[0]
    for user in ("a", "b"):
        state = UserState()
        for offset in range(3):
            # an impression counts only for a decision the user's state holds
            request = DecisionRequest(
                schema_version=1,
                event_id=f"r{user}{offset}",
                ts=offset,
                user_id=user,
                context={"risk_tolerance": 5},
                candidates=[arm],
            )
            decided = engine.step(state, request, Source("req", 0, offset))
            assert decided.decision is not None
            state = decided.state
            event = Impression(
                schema_version=1,
                event_id=f"{user}{offset}",
                ts=offset,
                user_id=user,
                decision_id=decided.decision.decision_id,
                arm_id=arm,
            )
            result = engine.step(state, event, Source("imp", 0, offset))
            tally.add_change(arm, state, result.state)
            state = result.state
    assert tally.changed
    assert tally.snapshot() == {arm: ArmStats(impressions=6.0, last_seen_ms=2)}
    assert not tally.changed


def _write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc))
    stamp = path.stat().st_mtime + 1  # a new mtime even within the filesystem's resolution
    os.utime(path, (stamp, stamp))


def test_catalog_file_change_is_swapped_in_and_a_bad_one_refused(tmp_path: Path) -> None:
    doc = json.loads(resources.files("model").joinpath("data/catalog.json").read_text())
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    holder = EngineHolder(
        Engine(load_catalog(path), build_policy("thompson", {}), ConstantScorer())
    )
    metrics = Metrics()
    watch = CatalogWatch(path, holder, metrics)
    assert watch.check() == "unchanged"

    retired = "savings_plan:loss_aversion"
    _write(path, {**doc, "version": 2, "retired": [retired]})
    assert watch.check() == "swapped"
    assert retired not in holder.engine.catalog.active_ids
    request = DecisionRequest(
        schema_version=1,
        event_id="r",
        ts=1,
        user_id="u",
        candidates=[retired, "term_deposit:gain_framing"],
    )
    decision = holder.engine.step(UserState(), request).decision
    assert decision is not None and decision.arm_id == "term_deposit:gain_framing"

    _write(path, {"products": "broken"})
    assert watch.check() == "failed"
    assert holder.engine.catalog.version == 2  # the old catalog keeps serving
    assert (
        metrics.registry.get_sample_value("nudge_catalog_reloads_total", {"outcome": "failed"}) == 1
    )
