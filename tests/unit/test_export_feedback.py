"""An impression-level export read straight into the evaluator's arrays gives what its
events give: the same ``LoggedFeedback`` (values, dtypes, order, arms, dropped counts),
the same estimates and the same errors, on both logging policies' exports; where the
shortcut does not hold (a user column, a repeated id, a bad cell) the events are read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import model.evaluation.export as export
from bench.logs import EXPORT_MAPPING, write_bandit_export
from model.attribution import AttributionRule
from model.evaluation import (
    LoggedFeedback,
    OffPolicyConfig,
    UnknownArmsError,
    evaluate_target,
    feedback_from_events,
)
from model.evaluation.export import feedback_from_export, feedback_from_log
from model.logs import ColumnMapping, LogFormatError, read_csv
from model.logs.rounds import read_rounds
from streams.apps.cli import main

ROWS = 1_200
BARE = ColumnMapping.from_dict(EXPORT_MAPPING)
NAMED = ColumnMapping.from_dict(EXPORT_MAPPING | {"defaults": {"policy": "random"}})
ARRAYS = ("user_ids", "decision_ids", "action", "pscore", "reward", "ts_ms", "position", "policy")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("exports")
    paths = {"random": where / "random.csv", "bts": where / "bts.csv"}
    for policy, path in paths.items():
        write_bandit_export(path, ROWS, policy, seed=11)
    return paths


def _assert_same(fast: LoggedFeedback | None, slow: LoggedFeedback) -> None:
    assert fast is not None
    for name in ARRAYS:
        ours, theirs = getattr(fast, name), getattr(slow, name)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name
    assert fast.contexts == slow.contexts
    assert fast.arms.arm_ids == slow.arms.arm_ids and fast.arms.source == slow.arms.source
    assert np.array_equal(fast.arms.item_of_arm, slow.arms.item_of_arm)
    assert (fast.n_logged, fast.dropped, fast.reward_rule) == (
        slow.n_logged,
        slow.dropped,
        slow.reward_rule,
    )
    assert list(fast.dropped) == list(slow.dropped)  # the report lists them in this order


def _events(path: Path, mapping: ColumnMapping, **options) -> LoggedFeedback:
    return feedback_from_events(read_csv(path, mapping), **options)


@pytest.mark.parametrize("policy", ["random", "bts"])
@pytest.mark.parametrize("mapping", [BARE, NAMED], ids=["bare", "policy-default"])
@pytest.mark.parametrize("rule", [None, AttributionRule.only("click")], ids=["weights", "click"])
def test_the_columns_give_the_events_feedback(exports, policy, mapping, rule) -> None:
    fast = feedback_from_export(exports[policy], mapping, rule=rule)
    slow = _events(exports[policy], mapping, rule=rule)
    _assert_same(fast, slow)
    assert len(slow) == ROWS and slow.reward.any() and (slow.position > 0).all()


@pytest.mark.parametrize("policy", ["random", "bts"])
def test_the_same_estimates(exports, policy) -> None:
    fast = feedback_from_export(exports[policy], NAMED, rule=AttributionRule.only("click"))
    slow = _events(exports[policy], NAMED, rule=AttributionRule.only("click"))
    assert fast is not None
    for target in ("segment-greedy", "uniform", "logging"):
        config = OffPolicyConfig(target=target, n_bootstrap=20)
        ours, theirs = evaluate_target(fast, config), evaluate_target(slow, config)
        assert ours.rows == theirs.rows and ours.by_position == theirs.by_position


def test_given_arms_drop_and_refuse_the_same(exports) -> None:
    """Arms outside the given ones: the same dropped counts (in the same order), or the
    same error naming counts and examples."""
    half = [str(i) for i in range(0, 80, 2)]
    path = exports["bts"]
    fast = feedback_from_export(path, BARE, half, drop_unknown=True)
    _assert_same(fast, _events(path, BARE, arms=half, drop_unknown=True))
    with pytest.raises(UnknownArmsError) as caught:
        _events(path, BARE, arms=half)
    with pytest.raises(UnknownArmsError) as ours:
        feedback_from_export(path, BARE, half)
    assert str(ours.value) == str(caught.value)


def test_rows_out_of_time_order_and_without_an_id_column(exports, tmp_path) -> None:
    """The attribution orders rounds by time (ties in file order); without an id column
    rows are ``row-N``; a gzip-compressed export reads the same."""
    lines = exports["random"].read_text().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    body = lines[1:]
    body = body[500:] + body[:500]
    body[10], body[700] = body[700], body[10]
    shuffled.write_text("\n".join([lines[0], *body]) + "\n")
    _assert_same(feedback_from_export(shuffled, BARE), _events(shuffled, BARE))
    no_ids = ColumnMapping.from_dict(
        EXPORT_MAPPING | {"columns": {k: v for k, v in EXPORT_MAPPING["columns"].items() if v}}
    )
    fast = feedback_from_export(shuffled, no_ids)
    _assert_same(fast, _events(shuffled, no_ids))
    assert fast is not None and fast.decision_ids[0].startswith("row-")
    packed = tmp_path / "shuffled.csv.gz"
    packed.write_bytes(gzip.compress(shuffled.read_bytes()))
    _assert_same(feedback_from_export(packed, BARE), _events(shuffled, BARE))


def _rewritten(source: Path, target: Path, row: int, column: int, cell: str) -> Path:
    lines = source.read_text().splitlines()
    cells = lines[row].split(",")
    cells[column] = cell
    lines[row] = ",".join(cells)
    target.write_text("\n".join(lines) + "\n")
    return target


def test_where_the_shortcut_does_not_hold_the_events_are_read(exports, tmp_path) -> None:
    """A repeated id (rows then share a user), a user column, a cell the column-wise
    reader leaves to the row reader: ``read_rounds`` declines, and ``feedback_from_log``
    gives the events' feedback or their error."""
    source = exports["random"]
    twice = _rewritten(source, tmp_path / "twice.csv", 5, 0, "7")
    columns = EXPORT_MAPPING["columns"] | {"user_id": "user_feature_0"}
    users = ColumnMapping.from_dict(EXPORT_MAPPING | {"columns": columns})
    spaced = _rewritten(source, tmp_path / "spaced.csv", 900, 0, " 899")  # its own id
    for path, mapping in ((twice, BARE), (source, users), (spaced, BARE)):
        assert read_rounds(path, mapping) is None
        _assert_same(feedback_from_log(path, mapping), _events(path, mapping))
    bad = _rewritten(source, tmp_path / "bad.csv", 700, 5, "abc")
    assert read_rounds(bad, BARE) is None
    with pytest.raises(LogFormatError, match=r"row 700 \(line 701\): .*'abc' is not a finite"):
        feedback_from_log(bad, BARE)
    empty = tmp_path / "empty.csv"
    empty.write_text(source.read_text().splitlines()[0] + "\n")
    with pytest.raises(ValueError, match="no decision that showed an arm"):
        feedback_from_log(empty, BARE)


def test_nudge_evaluate_reads_an_export_without_events(exports, tmp_path, monkeypatch) -> None:
    """The CLI takes the column-wise path for an export (what ``bench --only logs``
    times) and the events for a JSONL log."""
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(EXPORT_MAPPING))
    read_events = export.feedback_from_events
    calls: list[object] = []

    def counted(*args, **kwargs):
        calls.append(args[0])
        return read_events(*args, **kwargs)

    monkeypatch.setattr(export, "feedback_from_events", counted)
    out = tmp_path / "report"
    argv = ["evaluate", str(exports["bts"]), "--columns", str(mapping), "--out-dir", str(out)]
    assert main([*argv, "--target", "uniform", "--bootstrap", "20"]) == 0
    assert calls == [] and json.loads((out / "estimates.json").read_text())["decisions"] == ROWS
    log = tmp_path / "log.jsonl"
    assert (
        main(["simulate", "--users", "50", "--requests", "200", "--out", str(log), "--quiet"]) == 0
    )
    assert main(["evaluate", str(log), "--bootstrap", "20", "--out-dir", str(out)]) == 0
    assert len(calls) == 1


_HEADER = (
    ",timestamp,item_id,position,click,propensity_score,"
    "user_feature_0,user_feature_1,user_feature_2,user_feature_3"
)


@pytest.mark.parametrize(
    "rows",
    [
        [  # empty features, a slot written 01, numbers as features, times of three forms
            "0,2019-11-24 00:00:07.301001+00:00,4,1,0,0.0125,a,,007,1e999",
            "1,2019-11-24 00:00:08,5,01,1,0.5,a,b,12,x",
            "2,2019-11-24T00:00:09.5Z,6,3,2,1,,,,",
        ],
        ["é1,2019-11-24 00:00:07,4,1,1,0.5,a,b,c,d", "x,2019-11-24 00:00:06,4,2,1,0.5,a,b,c,d"],
        ['0,2019-11-24 00:00:07,4,1,1,0.5,"a,b",b,c,d', '1,2019-11-24 00:00:06,"4",,1,0.5,a,,c,d'],
        ["0,1574553607250,4,1,1,0.5,a,b,c,d\r", "1,1574553607250,5,2,0,0.5,a,b,c,d\r"],
        ["b,2019-11-24 00:00:07,4,1,1,0.5,a,b,c,d", "10,2019-11-24 00:00:07,5,2,1,0.5,a,b,c,d"],
        ["1,2019-11-24 00:00:07,4,1,1,0.5,a,b,c,d", "01,2019-11-24 00:00:07,5,2,1,0.5,a,b,c,d"],
    ],
    ids=["odd-cells", "non-ascii-id", "quoted", "crlf-epoch-ms", "text-ids", "1-and-01"],
)
def test_odd_exports_give_the_events_feedback(tmp_path, rows) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("\n".join([_HEADER, *rows]) + "\n")
    assert read_rounds(path, NAMED) is not None
    for rule in (None, AttributionRule.only("click")):
        _assert_same(feedback_from_export(path, NAMED, rule=rule), _events(path, NAMED, rule=rule))
