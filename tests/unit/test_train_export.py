"""``nudge train`` on another system's impression-level export: plain item ids become
arms, clicks count by the engine's own attribution rule, and the model ranks held-out
rows of the log better than chance by a margin the sample size justifies."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec

from bench.logs import EXPORT_MAPPING, write_bandit_export
from model.attribution import AttributionRule
from model.catalog import catalog_doc, load_catalog, plain_arm, with_plain_arms
from model.engine import decision_id_for
from model.events import Conversion, Decision, DecisionRequest, Impression
from model.features import fit_spec
from model.logs import ColumnMapping
from model.training import labelled_examples
from model.training import read_log_events as read
from streams.apps.cli import main
from streams.apps.logged import as_logged, is_foreign

ROWS = 6_000


def _null_auc_sd(positives: int, negatives: int) -> float:
    """Standard deviation of the AUC of a scorer that knows nothing (Mann-Whitney U)."""
    return math.sqrt((positives + negatives + 1) / (12 * positives * negatives))


def test_plain_item_ids_are_arms_with_neutral_features(tmp_path: Path) -> None:
    catalog = with_plain_arms(load_catalog(), ["40", "7", "index_fund:nope", "7"])
    assert "40" in catalog and "7" in catalog and "index_fund:nope" not in catalog
    arm = catalog.arm("40")
    assert arm.arm_id == "40" and arm.product.product_id == "40"
    spec = fit_spec([{}], catalog)
    assert spec.encode_arm(arm).shape == (spec.arm_dim,)
    assert (spec.encode_arm(arm) != spec.encode_arm(catalog.arm("7"))).any()  # ids differ
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog_doc(catalog)))
    assert load_catalog(path) == catalog
    items = tmp_path / "items.json"
    items.write_text(json.dumps({"items": ["3"]}))
    assert load_catalog(items).arm("3") == plain_arm("3")


def test_clicks_label_by_the_engines_rule(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    write_bandit_export(export, 600, "random", seed=4)
    events = read(export, ColumnMapping.from_dict(EXPORT_MAPPING))
    rule = AttributionRule()  # click weight 0.1, success = purchase only
    examples, label = labelled_examples(events, rule, "auto")
    assert label.startswith("reward: ") and "click 0.1" in label
    assert sum(e.label for e in examples) == sum(e.reward > 0 for e in examples) > 0
    strict, said = labelled_examples(events, rule, "success")
    assert not any(e.label for e in strict) and said.startswith("success: ")


def test_train_on_an_export_beats_chance(tmp_path: Path, capsys) -> None:
    export, mapping = tmp_path / "export.csv", tmp_path / "mapping.json"
    write_bandit_export(export, ROWS, "random", seed=3)
    mapping.write_text(json.dumps(EXPORT_MAPPING | {"defaults": {"policy": "random"}}))
    argv = ["train", "--input", str(export), "--columns", str(mapping), "--no-progress"]
    assert main([*argv, "--model-dir", str(tmp_path / "models")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["outcome"] == "published"
    assert summary["label"].startswith("reward: label 1 when the decision earned a reward")
    assert "click 0.1" in summary["label"] and "window 604800 s" in summary["label"]
    metrics = json.loads((Path(summary["path"]) / "metrics.json").read_text())
    held = metrics["examples"]
    positives = round(metrics["positive_rate"] * held)
    assert held > 0.15 * ROWS and positives > 50
    margin = 3 * _null_auc_sd(positives, held - positives)
    assert summary["auc"] > 0.5 + margin, (summary["auc"], margin)


def test_an_export_replays_as_the_worker_would_apply_it(tmp_path: Path, capsys) -> None:
    """``as_logged`` pins each request to its logged arm (with the logged propensity) and
    points the decision and its outcomes at the worker's decision id; our own decisions
    are left alone; the derived catalog has the log's arms, which the engine applies."""
    export, mapping = tmp_path / "x.csv", tmp_path / "map.json"
    write_bandit_export(export, 60, "random", seed=2)
    mapping.write_text(json.dumps(EXPORT_MAPPING))
    events = read(export, ColumnMapping.from_dict(EXPORT_MAPPING))
    rewritten = list(as_logged(events))
    assert [e.event_id for e in rewritten] == [e.event_id for e in events]
    request, decision, shown = rewritten[:3]
    assert isinstance(request, DecisionRequest) and isinstance(decision, Decision)
    assert request.candidates == [decision.arm_id] and is_foreign(events[1])
    assert request.logged is not None and request.logged.propensity == decision.propensity
    assert decision.decision_id == decision_id_for(request.event_id)  # made again, not sent
    assert isinstance(shown, Impression)
    assert shown.decision_id == decision_id_for(request.event_id)
    clicks = [e for e in rewritten if isinstance(e, Conversion)]
    assert clicks and all(c.decision_id and c.decision_id.startswith("d-") for c in clicks)
    own = msgspec.structs.replace(decision, decision_id=decision_id_for(request.event_id))
    assert list(as_logged([events[0], own])) == [events[0], own]
    out = tmp_path / "catalog.json"
    argv = ["catalog", "--from-log", str(export), "--columns", str(mapping), "--out", str(out)]
    assert main(argv) == 0 and "arms" in capsys.readouterr().out
    arms = {e.arm_id for e in events if isinstance(e, Decision)}
    assert set(load_catalog(out).arm_ids) == arms
