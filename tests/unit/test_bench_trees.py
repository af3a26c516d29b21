"""``python -m bench.kafka.trees``: what a ``--tree`` may name."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.kafka.trees import main, parse_tree

ROOT = Path(__file__).resolve().parents[2]


def test_a_tree_is_a_name_and_a_nudgeflow_source_tree() -> None:
    assert parse_tree(f"now={ROOT}") == ("now", ROOT)


@pytest.mark.parametrize("text", ["now", f"={ROOT}", "now=/nonexistent", f"now={ROOT / 'bench'}"])
def test_anything_else_is_refused_with_the_value_named(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=PATH"):
        parse_tree(text)


def test_one_tree_alone_is_refused_before_any_broker_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--tree", f"now={ROOT}"])
    assert exited.value.code == 2
    assert "two trees or more" in capsys.readouterr().err
