"""CSV logs: the round trip, another system's export through a column mapping, the errors
a person gets for a bad row or mapping, and the commands that read logs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from model.events import Conversion, Decision, DecisionRequest, Impression, LogEvent
from model.logs import (
    ColumnMapping,
    LogFormatError,
    count_events,
    load_column_mapping,
    read_csv,
    read_log,
    write_csv,
    write_log,
)
from model.training import read_log_events
from streams.apps.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAPPING = ROOT / "deploy" / "examples" / "csv-columns.json"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()) * 1000


def _all_kinds() -> list[LogEvent]:
    env: dict[str, Any] = {"schema_version": 1, "user_id": "사용자-1"}
    return [
        DecisionRequest(
            event_id="r-1",
            ts=1_735_719_688_729,
            context={
                "age": 41,
                "income": 52_000.25,
                "ratio": 1 / 3,
                "tiny": 1e-300,
                "region": '서울, "강남"\nline two',
                "vip": True,
                "closed": False,
                "unknown": None,
            },
            candidates=["index_fund:social_proof", "deposit:default"],
            touchpoint="app home ✨",
            **env,
        ),
        DecisionRequest(event_id="r-2", ts=0, context={}, **env),
        Decision(
            event_id="d-1",
            ts=1_735_719_688_730,
            decision_id="d-1",
            request_id="r-1",
            arm_id="index_fund:social_proof",
            product_id="index_fund",
            strategy_id="social_proof",
            propensity=0.012345679012345678,
            explored=True,
            policy="thompson",
            model_version="2025-01-01T00:00Z-abc",
            score=-0.1,
            **env,
        ),
        Decision(  # blocked by a guardrail: no arm, a reason; empty ids are allowed here
            event_id="d-2",
            ts=5,
            decision_id="",
            request_id="",
            arm_id=None,
            product_id=None,
            strategy_id=None,
            propensity=1.0,
            explored=False,
            policy="",
            model_version="",
            score=0.0,
            reason="frequency cap",
            **env,
        ),
        Impression(
            event_id="i-1", ts=7, decision_id="d-1", arm_id="index_fund:social_proof", **env
        ),
        Conversion(event_id="c-1", ts=9, kind="purchase", value=1234.5, decision_id="d-1", **env),
        Conversion(event_id="c-2", ts=10, kind="click", **env),
    ]


@pytest.mark.parametrize("name", ["log.csv", "log.csv.gz"])
def test_csv_round_trip_keeps_every_event_exactly(tmp_path: Path, name: str) -> None:
    events = _all_kinds()
    path = tmp_path / name
    assert write_log(path, events) == len(events)
    assert list(read_log(path)) == events
    assert count_events(path) == len(events)


def test_csv_header_is_the_parquet_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    write_csv(path, _all_kinds()[-1:])
    header, row = path.read_text().splitlines()
    assert header.startswith("type,schema_version,event_id,ts,user_id,context,candidates,")
    assert row == "conversion,1,c-2,10,사용자-1,,,,,,,,,,,,,,,click,1.0"


def test_empty_string_in_a_nullable_field_reads_back_as_null(tmp_path: Path) -> None:
    event = DecisionRequest(schema_version=1, event_id="r", ts=1, user_id="u", touchpoint="")
    write_csv(tmp_path / "log.csv", [event])
    [back] = read_csv(tmp_path / "log.csv")
    assert isinstance(back, DecisionRequest) and back.touchpoint is None


def _readme_example() -> tuple[dict[str, Any], str]:
    """The mapping and the CSV export shown in README 'Log format'."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Log format (replay, training, evaluation)", 1)[1]
    section = section.split("\n## ", 1)[0]
    mapping = re.search(r"```json\n(.*?)```", section, re.S)
    export = re.search(r"reads this export.*?```\n(.*?)```", section, re.S)
    assert mapping and export, "README 'Log format' lost its mapping example"
    return json.loads(mapping.group(1)), export.group(1)


def test_the_readme_example_reads_with_the_example_mapping_file(tmp_path: Path) -> None:
    shown, export = _readme_example()
    example = json.loads(EXAMPLE_MAPPING.read_text())
    example.pop("description")
    assert shown == example, "README and deploy/examples/csv-columns.json disagree"
    path = tmp_path / "crm.csv"
    path.write_text(export)
    events = list(read_log(path, load_column_mapping(EXAMPLE_MAPPING, log=path)))
    user = {"schema_version": 1, "user_id": "c-17"}
    assert events == [
        DecisionRequest(
            event_id="r-1",
            ts=_utc(2025, 1, 6, 0, 30),
            context={"age": 41, "income": 52000.5, "region": "seoul"},
            **user,
        ),
        Decision(
            event_id="o-1",
            ts=_utc(2025, 1, 6, 0, 30) + 250,
            decision_id="o-1",
            request_id="r-1",
            arm_id="index_fund:social_proof",
            product_id="index_fund",
            strategy_id="social_proof",
            propensity=0.25,
            explored=True,
            policy="crm-rules",
            model_version="crm-2024",
            score=0.0,
            **user,
        ),
        Impression(
            event_id="s-1",
            ts=_utc(2025, 1, 6, 0, 31),
            decision_id="o-1",
            arm_id="index_fund:social_proof",
            **user,
        ),
        Conversion(
            event_id="p-1",
            ts=_utc(2025, 1, 7, 10, 0),
            kind="purchase",
            value=1500.0,
            decision_id="o-1",
            **user,
        ),
    ]
    assert ColumnMapping.from_file(EXAMPLE_MAPPING) == load_column_mapping(EXAMPLE_MAPPING)
    assert count_events(path) == 5  # the LOGIN row counts; read_log skips it


BANK_MAPPING = {
    "description": "semicolons, epoch seconds, plain context columns",
    "columns": {
        "type": "kind_of_event",
        "event_id": "id",
        "ts": "epoch_s",
        "user_id": "client",
        "decision_id": "offer",
        "arm_id": "arm",
        "kind": "outcome",
    },
    "context": ["age", "income", "region", "postcode"],
    "types": {"req": "decision-request", "dec": "decision", "imp": "impression", "noise": None},
    "ts_unit": "s",
    "delimiter": ";",
}
BANK_EXPORT = """\
id;kind_of_event;epoch_s;client;age;income;region;postcode;candidates;offer;request_id;\
arm;product_id;strategy_id;propensity;explored;policy;model_version;score;outcome;value;note
r1;req;1736150400;c1;35;4.2e4;부산;01234;a:x| b:y;;;;;;;;;;;;;first
r2 ; req ;1736150401;c2;;-7;;;"[""a:x""]";;;;;;;;;;;;;
d1;dec;1736150400.5;c1;;;;;;d1;r1;a:x;a;x;0.5;YES;rule;v1;-1.5;;;"a; b"
n1;noise;1;c1;;;;;;;;;;;;;;;;;;
i1;imp;1736150401;c1;;;;;;d1;;a:x;;;;;;;;;;
v1;conversion;2025-01-06T08:00:01.5;c1;;;;;;d1;;;;;;;;;;click;;
"""


def test_a_bank_export_reads_through_a_mapping_file(tmp_path: Path) -> None:
    mapping_path = tmp_path / "bank.json"
    mapping_path.write_text(json.dumps(BANK_MAPPING))
    path = tmp_path / "bank.csv"
    path.write_bytes(b"\xef\xbb\xbf" + BANK_EXPORT.encode())  # as a spreadsheet saves it
    events = list(read_log(path, ColumnMapping.from_file(mapping_path)))
    t = 1_736_150_400_000
    assert events == [
        DecisionRequest(
            schema_version=1,
            event_id="r1",
            ts=t,
            user_id="c1",
            context={"age": 35, "income": 42000.0, "region": "부산", "postcode": "01234"},
            candidates=["a:x", "b:y"],
        ),
        DecisionRequest(
            schema_version=1,
            event_id="r2 ",
            ts=t + 1000,
            user_id="c2",
            context={"income": -7},
            candidates=["a:x"],
        ),
        Decision(
            schema_version=1,
            event_id="d1",
            ts=t + 500,
            user_id="c1",
            decision_id="d1",
            request_id="r1",
            arm_id="a:x",
            product_id="a",
            strategy_id="x",
            propensity=0.5,
            explored=True,
            policy="rule",
            model_version="v1",
            score=-1.5,
        ),
        Impression(
            schema_version=1,
            event_id="i1",
            ts=t + 1000,
            user_id="c1",
            decision_id="d1",
            arm_id="a:x",
        ),
        Conversion(
            schema_version=1,
            event_id="v1",
            ts=_utc(2025, 1, 6, 8, 0, 1) + 500,
            user_id="c1",
            kind="click",
            decision_id="d1",
        ),
    ]


def test_a_file_of_one_kind_needs_no_type_column(tmp_path: Path) -> None:
    path = tmp_path / "purchases.csv"
    mapping = ColumnMapping(
        type="conversion",
        columns={
            "ts": "when",
            "user_id": "who",
            "kind": "what",
            "value": "amount",
            "decision_id": "offer",
        },
        defaults={"decision_id": "unknown"},
    )
    path.write_text("when,who,what,amount,offer\n2025-01-06,c1,purchase,99.5,o1\n")
    with pytest.raises(LogFormatError) as caught:
        list(read_csv(path, mapping))
    assert str(caught.value) == (
        f"{path}: the header has no column for 'event_id', required for conversion rows "
        "(header: 'when', 'who', 'what', 'amount', 'offer')"
    )
    path.write_text(
        "event_id,when,who,what,amount,offer\n"
        "x1,2025-01-06T09:00:00+09:00,c1,purchase,99.5,o1\n"
        "x2,1736150400000,c2,purchase,,\n"
    )
    assert list(read_csv(path, mapping)) == [
        Conversion(
            schema_version=1,
            event_id="x1",
            ts=_utc(2025, 1, 6, 0, 0),
            user_id="c1",
            kind="purchase",
            value=99.5,
            decision_id="o1",
        ),
        Conversion(
            schema_version=1,
            event_id="x2",
            ts=1_736_150_400_000,
            user_id="c2",
            kind="purchase",
            decision_id="unknown",
        ),
    ]


HEADER = "type,event_id,ts,user_id,decision_id,arm_id,propensity,explored,context\n"
OK_ROW = "impression,i1,5,u1,d1,a1,,,\n"
DECISION = (  # a file's rows may lack columns other kinds need; checked row by row
    "type,event_id,ts,user_id,decision_id,request_id,arm_id,product_id,strategy_id,"
    "propensity,explored,policy,model_version,score,context\n"
    "decision,d1,5,u1,d1,r1,a1,p,s,{p},{e},rule,v1,0.0,\n"
)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            OK_ROW + "click,i2,6,u1,d1,a1,,,\n",
            "row 2 (line 3): unknown type 'click' in column 'type' (expected one of "
            "decision-request, decision, impression, conversion)",
        ),
        (OK_ROW + ",i2,6,u1,d1,a1,,,\n", "row 2 (line 3): empty type column 'type'"),
        (
            "impression,i1,yesterday,u1,d1,a1,,,\n",
            "row 1 (line 2): 'ts': 'yesterday' is neither epoch ms nor an ISO 8601 time",
        ),
        ("impression,i1,-5,u1,d1,a1,,,\n", "row 1 (line 2): invalid impression: Expected `int`"),
        ("impression,i1,5,,d1,a1,,,\n", "row 1 (line 2): empty 'user_id', required for impression"),
        ("impression,i1,5,u1,d1,,,,\n", "row 1 (line 2): empty 'arm_id', required for impression"),
        (
            "conversion,c1,5,u1,d1,,,,\n",
            "row 1 (line 2): no column 'kind', required for conversion",
        ),
        (
            OK_ROW + "decision-request,r1,5,u1,,,,,{age: 3}\n",
            "row 2 (line 3): bad JSON in 'context': Expecting property name",
        ),
        (
            'decision-request,r1,5,u1,,,,,"[1, 2]"\n',
            "row 1 (line 2): invalid decision-request: Expected `object`, got `array`",
        ),
        (
            DECISION.format(p="high", e="true"),
            "row 1 (line 2): 'propensity': 'high' is not a finite number",
        ),
        (DECISION.format(p=" NaN", e="true"), "'propensity': ' NaN' is not a finite number"),
        (DECISION.format(p="0.5", e="maybe"), "'explored': 'maybe' is not a boolean"),
        ("impression,i1,5,u1,d1\n", "row 1 (line 2): 5 cells, but the header has 9 columns"),
        (
            'decision-request,r1,5,u1,,,,,"{""a"":\n""b""}"\n' + "click,x,1,u,,,,,\n",
            "row 2 (line 4): unknown type 'click'",
        ),
    ],
)
def test_a_bad_row_names_the_file_row_line_and_reason(
    tmp_path: Path, rows: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(rows if rows.startswith("type,") else HEADER + rows)
    with pytest.raises(LogFormatError) as caught:
        list(read_log(path))
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_mapped_column_missing_from_the_header_is_reported_before_any_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.csv"
    path.write_text("EVENT,ID,WHEN,CLIENT\nimpression,i1,5,u1\n")
    mapping = ColumnMapping(
        columns={"type": "EVENT", "event_id": "ID", "ts": "TIME", "user_id": "CLIENT"},
        context=["AGE", "CLIENT"],
    )
    with pytest.raises(LogFormatError) as caught:
        next(read_csv(path, mapping))
    assert str(caught.value) == (
        f"{path}: the header has no column 'TIME', 'AGE', which the column mapping names "
        "(header: 'EVENT', 'ID', 'WHEN', 'CLIENT')"
    )
    path.write_text("ID,WHEN\ni1,5\n")
    with pytest.raises(LogFormatError, match="no type column 'type'"):
        next(read_csv(path))


def test_a_contract_violation_names_the_mapped_column(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    long_id = "i" * 257
    path.write_text(f"type,ID,ts,user_id,decision_id,arm_id\nimpression,{long_id},5,u1,d1,a1\n")
    mapping = ColumnMapping(columns={"event_id": "ID"})
    with pytest.raises(LogFormatError, match=r"length <= 256 - at `\$.event_id` \(column 'ID'\)"):
        next(read_csv(path, mapping))
    path.write_text("type,ID,user_id,decision_id,arm_id\nimpression,i1,u1,d1,a1\n")
    mapping = ColumnMapping(columns={"event_id": "ID"}, defaults={"ts": -1})
    with pytest.raises(LogFormatError, match=r"row 1 \(line 2\): .*>= 0 - at `\$.ts`"):
        next(read_csv(path, mapping))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"colums": {}}, "unknown key 'colums' (did you mean 'columns'?) (known keys: columns,"),
        (
            {"columns": {"userid": "X"}},
            "unknown field 'userid' in columns (did you mean 'user_id'?)",
        ),
        ({"columns": {"context": "X"}}, 'map the context with the "context" key'),
        ({"columns": {"ts": 5}}, "Expected `str`, got `int` - at `$.columns[...]`"),
        ({"types": {"A": "click"}}, "types['A'] is 'click', not one of decision-request,"),
        ({"type": "conversion", "types": {"A": "conversion"}}, 'give either a constant "type"'),
        ({"type": "purchase"}, "type is 'purchase', not one of"),
        ({"ts_unit": "us"}, "ts_unit is 'us', not one of ms, s"),
        ({"defaults": {"explored": "yes"}}, "defaults.explored must be true or false, not 'yes'"),
        ({"defaults": {"ts": 1.5}}, "defaults.ts must be an integer"),
        ({"defaults": {"kindd": "x"}}, "unknown field 'kindd' in defaults (did you mean 'kind'?)"),
        ({"context": []}, "context names no column"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"encoding": "klingon"}, "unknown encoding 'klingon'"),
        ([], "must be a JSON object, not an array"),
    ],
)
def test_a_bad_mapping_file_is_refused_with_a_clear_message(
    tmp_path: Path, doc: object, message: str
) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(LogFormatError) as caught:
        load_column_mapping(path)
    assert str(caught.value).startswith(f"column mapping {path}: ")
    assert message in str(caught.value)


def test_a_mapping_is_refused_for_a_log_that_is_not_csv(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{")
    with pytest.raises(LogFormatError, match=f"column mapping {path}: not JSON"):
        load_column_mapping(path)
    with pytest.raises(LogFormatError, match="applies to CSV logs"):
        load_column_mapping(EXAMPLE_MAPPING, log=tmp_path / "log.jsonl")
    with pytest.raises(ValueError, match="applies to CSV logs"):
        read_log(tmp_path / "log.parquet", ColumnMapping())


# -- the commands ------------------------------------------------------------------------


def _simulate(path: Path) -> None:
    argv = ["simulate", "--out", str(path), "--users", "300", "--requests", "1500"]
    assert main([*argv, "--seed", "3", "--quiet"]) == 0


def _bank_csv(events: list[LogEvent], path: Path, mapping_path: Path) -> None:
    """``events`` as a bank would export them, and the mapping that reads them back."""
    mapping = json.loads(EXAMPLE_MAPPING.read_text())
    mapping["columns"].update(policy="POLICY", model_version="MODEL", score="SCORE")
    features = sorted({k for e in events if isinstance(e, DecisionRequest) for k in e.context})
    mapping["context"] = {f: f.upper() for f in features}
    mapping_path.write_text(json.dumps(mapping))
    names = {kind: code for code, kind in mapping["types"].items() if kind}
    columns = mapping["columns"]
    header = [*columns.values(), *mapping["context"].values(), "POLICY_NOTE"]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    lines = [",".join(header)]
    for event in events:
        data = {field: getattr(event, field, None) for field in columns if field != "type"} | {
            "type": names[type(event).__struct_config__.tag]
        }
        when = epoch + timedelta(milliseconds=event.ts)
        data["ts"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if isinstance(event, Decision):
            data["explored"] = "Y" if event.explored else "N"
        cells = [data[f] for f in columns]
        context = event.context if isinstance(event, DecisionRequest) else {}
        cells += [context.get(f) for f in features]
        lines.append(",".join("" if c is None else str(c) for c in [*cells, "n/a"]))
    path.write_text("\n".join(lines) + "\n")


def test_replay_of_a_mapped_csv_matches_replay_of_the_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl, csv_log, mapping = tmp_path / "sim.jsonl", tmp_path / "bank.csv", tmp_path / "m.json"
    _simulate(jsonl)
    events = list(read_log(jsonl))
    _bank_csv(events, csv_log, mapping)
    assert list(read_log(csv_log, load_column_mapping(mapping))) == events
    assert read_log_events(csv_log, load_column_mapping(mapping)) == events
    capsys.readouterr()

    def replay(*argv: str) -> list[str]:
        assert main(["replay", *argv, "--offline", "--quiet"]) == 0
        return capsys.readouterr().out.splitlines()[1:]  # after the timing line

    from_jsonl = replay(str(jsonl))
    assert from_jsonl == replay(str(csv_log), "--columns", str(mapping))
    assert any("decided" in line for line in from_jsonl)


def test_evaluate_of_a_simulated_csv_matches_the_jsonl(tmp_path: Path) -> None:
    results = []
    for name in ("sim.jsonl", "sim.csv"):
        _simulate(tmp_path / name)
        out = tmp_path / f"eval-{name}"
        argv = ["evaluate", str(tmp_path / name), "--bootstrap", "20", "--out-dir", str(out)]
        assert main(argv) == 0
        doc = json.loads((out / "estimates.json").read_text())
        assert doc.pop("log") == str(tmp_path / name)  # the report names its log
        results.append(doc)
    assert list(read_log(tmp_path / "sim.csv")) == list(read_log(tmp_path / "sim.jsonl"))
    assert results[0] == results[1]


def test_columns_with_a_log_that_is_not_csv_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    write_log(log, _all_kinds())
    capsys.readouterr()
    for argv in (
        ["replay", str(log), "--offline", "--columns", str(EXAMPLE_MAPPING)],
        ["evaluate", str(log), "--columns", str(EXAMPLE_MAPPING)],
        ["train", "--input", str(log), "--columns", str(EXAMPLE_MAPPING)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "applies to CSV logs (.csv, .csv.gz) only" in err


def test_train_reads_a_csv_input_through_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_twotower_synthetic import preference_log

    log, mapping = tmp_path / "log.csv", tmp_path / "identity.json"
    write_log(log, preference_log(150, 4, seed=13))
    mapping.write_text('{"description": "the columns write_csv writes"}')
    argv = ["train", "--input", str(log), "--columns", str(mapping), "--epochs", "1"]
    models = tmp_path / "models"
    assert main([*argv, "--model-dir", str(models), "--version", "csv-1", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["outcome"] == "published" and (models / "csv-1" / "MANIFEST.json").is_file()
