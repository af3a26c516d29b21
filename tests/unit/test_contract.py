"""The published contract: JSON Schemas generated from the wire types, shipped in the
package and in deploy/contract/ (drift fails here), agreeing with the edge decoder, and
the README's examples valid against them."""

from __future__ import annotations

import ast
import base64
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from model.events import Decision
from streams.apps.cli import main
from streams.runtime.contract import (
    CONTRACT_TOPICS,
    DRAFT,
    INPUT_TOPICS,
    packaged_schema,
    schema_text,
)
from streams.runtime.partitioning import partition_for
from streams.runtime.schemas import Rejection, dead_letter_bytes, decode_event
from tests import hostile
from tests.readme_contract import README, python_blocks, walkthrough

ROOT = Path(__file__).resolve().parents[2]
# What a schema can say; the other reasons are the edge's own rules (key, partition,
# duplicate names, size) or the worker's (catalog, attribution).
SCHEMA_REASONS = {"missing_field", "wrong_type", "invalid_value", "unknown_schema_version",
                  "not_an_object"}  # fmt: skip
NOT_JSON = {"empty", "oversized", "not_utf8", "malformed_json", "too_deep"}


def validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(packaged_schema(kind)))


def errors(kind: str, value: Any) -> list[str]:
    return [error.message for error in validator(kind).iter_errors(value)]


@pytest.mark.parametrize("kind", CONTRACT_TOPICS)
def test_shipped_schemas_are_generated_from_the_wire_types(kind: str) -> None:
    regenerate = "regenerate: nudge schema --write {streams/runtime/contract,deploy/contract}"
    assert packaged_schema(kind) == schema_text(kind), regenerate
    assert (ROOT / "deploy/contract" / f"{kind}.schema.json").read_text() == schema_text(kind)
    schema = json.loads(schema_text(kind))
    assert schema["$schema"] == DRAFT
    Draft202012Validator.check_schema(schema)
    for rule in ("user_id", "murmur2") if kind in INPUT_TOPICS else ("always present",):
        assert rule in schema["description"]


def test_no_stray_schema_files() -> None:
    names = {f"{kind}.schema.json" for kind in CONTRACT_TOPICS}
    assert {p.name for p in (ROOT / "deploy/contract").iterdir()} == names
    assert {p.name for p in (ROOT / "streams/runtime/contract").glob("*.json")} == names
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert package_data["package-data"]["streams.runtime.contract"] == ["*.schema.json"]


def _strict_json(raw: bytes) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(name)

    return json.loads(raw, parse_constant=refuse)


@pytest.mark.parametrize(
    ("topic", "name"), [(t, n) for t, kinds in hostile.TOPIC_KINDS.items() for n in kinds]
)
def test_schema_and_edge_decoder_agree_on_the_hostile_corpus(topic: str, name: str) -> None:
    """The schema refuses exactly what the edge decoder refuses for a reason a schema can
    state; the rest (key, partition, repeated names, catalog, attribution) it accepts."""
    make, reason = hostile.TOPIC_KINDS[topic][name]
    key, raw = make(f"hostile-{name}")
    if reason in NOT_JSON:
        return  # not one JSON value: no schema applies
    edge = decode_event(topic, raw, key, 1 << 20)
    found = errors(topic, _strict_json(raw))
    if isinstance(edge, Rejection) and edge.reason in SCHEMA_REASONS:
        assert found, f"{name}: the edge says {edge.reason}, the schema accepts it"
    else:
        assert not found, f"{name} ({reason}) is not the schema's to refuse: {found}"


def test_worker_outputs_are_valid() -> None:
    decision = Decision(
        schema_version=1, event_id="d-1", ts=hostile.T0, user_id="u1", decision_id="d-1",
        request_id="r1", arm_id=None, product_id=None, strategy_id=None, propensity=1.0,
        explored=False, policy="thompson", model_version="constant", score=0.0,
        reason="frequency_cap",
    )  # fmt: skip
    assert errors("decisions", msgspec.to_builtins(decision)) == []
    assert errors("decisions", {**msgspec.to_builtins(decision), "reason": 3})
    letter = dead_letter_bytes(Rejection("wrong_partition", "x" * 900), "t", 1, 7, None, b"\xff")
    assert errors("dead-letter", json.loads(letter)) == []
    assert errors("dead-letter", {**json.loads(letter), "reason": "because"})


def test_readme_walkthrough_is_valid_against_the_schemas() -> None:
    steps = walkthrough()
    produced = [s for s in steps if s.produces]
    read = {s.kind: s for s in steps if not s.produces}
    assert [s.kind for s in produced] == ["decision-requests", "impressions", "conversions",
                                          "decision-requests", "decision-requests"]  # fmt: skip
    assert set(read) == {"decisions", "dead-letter"}
    for step in read.values():
        assert step.expected, f"README: no output shown for {step.command}"
        for key, partition, value in step.expected:
            assert errors(step.kind, value) == [], (step.kind, value)
            assert partition == partition_for(key.encode(), 4) or step.kind == "dead-letter"
    letters = {line[2]["original_base64"]: line[2] for line in read["dead-letter"].expected}
    for step in produced:
        assert step.value is not None and step.key is not None
        value = json.loads(step.value)
        letter = letters.pop(base64.b64encode(step.value.encode()).decode(), None)
        if letter is None:  # meant to be applied: valid, and sent as the contract says
            assert errors(step.kind, value) == [], step.value
            assert step.key == value["user_id"] and step.murmur2, step.command
        elif letter["reason"] in SCHEMA_REASONS:
            assert errors(step.kind, value), f"the schema should refuse {step.value}"
        else:
            assert letter["reason"] == "wrong_partition" and not step.murmur2
            assert letter["partition"] != partition_for(step.key.encode(), 4)
    assert not letters, "a dead letter in the README that no step produced"
    (_, _, decision), = read["decisions"].expected  # fmt: skip
    for step in produced[1:3]:
        assert json.loads(step.value or "")["decision_id"] == decision["decision_id"]


def test_readme_partitioner_vectors() -> None:
    text = README.read_text()
    line = re.search(r"with\s+4 partitions: (.*?) \(12 partitions: ([\d, ]+)\)", text, re.S)
    assert line is not None
    pairs = re.findall(r"`([\w-]+)` → (\d)", line.group(1))
    assert len(pairs) == 4
    for (key, four), twelve in zip(pairs, line.group(2).split(", "), strict=True):
        assert partition_for(key.encode(), 4) == int(four)
        assert partition_for(key.encode(), 12) == int(twelve)


def test_readme_client_examples_compile() -> None:
    blocks = [b for b in python_blocks() if "NudgeClient" in b]
    assert len(blocks) == 2
    assert len(blocks[0].strip().splitlines()) <= 10
    for block in blocks:
        compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert "from streams.apps.client import NudgeClient" in blocks[0]


def test_nudge_schema_prints_the_shipped_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "nudge.decisions"]) == 0
    assert capsys.readouterr().out == packaged_schema("decisions")
    assert main(["schema", "impressions"]) == 0
    assert capsys.readouterr().out == packaged_schema("impressions")
    assert main(["schema"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(CONTRACT_TOPICS)
    assert main(["schema", "nudge.model-updates"]) == 2
    assert "no schema for topic" in capsys.readouterr().err


def test_nudge_schema_write(tmp_path: Path) -> None:
    assert main(["schema", "--write", str(tmp_path)]) == 0
    for kind in CONTRACT_TOPICS:
        assert (tmp_path / f"{kind}.schema.json").read_text() == schema_text(kind)
