"""The column-wise reader of impression-level exports gives the row reader's events and
errors: the same events in the same order, and the same one-line message for a bad row."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from bench.logs import EXPORT_MAPPING, write_bandit_export
from model.logs import ColumnMapping, LogFormatError, read_csv
from model.logs.csvlog import _read_rows

MAPPING = ColumnMapping.from_dict(EXPORT_MAPPING | {"defaults": {"policy": "random"}})


def _rows(path: Path, mapping: ColumnMapping = MAPPING) -> list:
    return list(itertools.chain.from_iterable(_read_rows(path, mapping, 1)))


@pytest.mark.parametrize("policy", ["random", "bts"])
def test_column_wise_equals_row_by_row(tmp_path, policy) -> None:
    path = tmp_path / "export.csv"
    write_bandit_export(path, 900, policy, seed=5)
    fast = list(read_csv(path, MAPPING))
    assert fast == _rows(path) and len(fast) > 2700
    bare = ColumnMapping.from_dict(EXPORT_MAPPING)
    assert list(read_csv(path, bare)) == _rows(path, bare)


def test_odd_cells_read_as_the_row_reader_reads_them(tmp_path) -> None:
    """Empty features, a slot written ``01``, a numeric feature, a timestamp without
    offset, epoch seconds, a gzip file: the same events either way."""
    lines = [
        ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,"
        "user_feature_2,user_feature_3",
        "0,2019-11-24 00:00:07.301001+00:00,4,1,0,0.0125,a,,007,1e999",
        "1,2019-11-24 00:00:08,5,01,1,0.5,a,b,12,x",
        "2,2019-11-24T00:00:09.5Z,6,3,2,1,,,,",
    ]
    path = tmp_path / "odd.csv"
    path.write_text("\n".join(lines) + "\n")
    assert list(read_csv(path, MAPPING)) == _rows(path)
    packed = tmp_path / "odd.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert list(read_csv(packed, MAPPING)) == _rows(path)
    seconds = tmp_path / "seconds.csv"
    seconds.write_text("\n".join([lines[0], "0,1574553607.25,4,1,0,0.0125,a,b,c,d"]) + "\n")
    mapping = ColumnMapping.from_dict(EXPORT_MAPPING | {"ts_unit": "s"})
    [_, decision, *_] = read_csv(seconds, mapping)
    assert decision.ts == 1574553607250 and list(read_csv(seconds, mapping)) == _rows(
        seconds, mapping
    )


@pytest.mark.parametrize(
    ("cell", "row", "reason"),
    [
        ("abc", 700, "'propensity_score' (propensity): 'abc' is not a finite number"),
        ("nan", 3, "'propensity_score' (propensity): 'nan' is not a finite number"),
        (None, 1_000, "cells, but the header has 90 columns"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_row_and_reason(tmp_path, cell, row, reason) -> None:
    path = tmp_path / "bad.csv"
    write_bandit_export(path, 1_200, "random", seed=1)
    lines = path.read_text().splitlines()
    cells = lines[row].split(",")
    if cell is None:
        cells = cells[:-1]  # a cell short
    else:
        cells[5] = cell
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LogFormatError) as caught:
        list(read_csv(path, MAPPING))
    message = str(caught.value)
    assert message.startswith(f"{path}: row {row} (line {row + 1}): ") and reason in message
    assert "\n" not in message
    with pytest.raises(LogFormatError) as by_rows:
        _rows(path)
    assert str(by_rows.value) == message
