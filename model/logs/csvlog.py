"""CSV logs, written like Parquet, and read from other systems through a column mapping."""

from __future__ import annotations

import codecs
import csv
import gzip
import itertools
import json
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from model.events import LogEvent
from model.logs.cells import RowError
from model.logs.columnar import Fallback, read_batches
from model.logs.common import JSON_COLUMNS, LOG_COLUMNS, LogFormatError
from model.logs.mapping import ColumnMapping
from model.logs.plan import CsvPlan


def _open_text(path: str | Path, mode: str, encoding: str) -> IO[str]:
    if mode == "r" and codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a spreadsheet's byte-order mark is not part of the header
    if Path(path).name.lower().endswith(".gz"):
        if mode == "r":
            return gzip.open(path, "rt", encoding=encoding, newline="")
        return gzip.open(path, "wt", encoding=encoding, newline="")
    return open(path, mode, encoding=encoding, newline="")


def write_csv(path: str | Path, events: Iterable[LogEvent]) -> int:
    """Write ``events`` as CSV with a header row of ``LOG_COLUMNS`` (gzip-compressed when
    ``path`` ends in ``.gz``); returns the count."""
    count = 0
    with _open_text(path, "w", "utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(LOG_COLUMNS)
        for event in events:
            data = msgspec.to_builtins(event)
            data["type"] = type(event).__struct_config__.tag
            writer.writerow([_csv_cell(name, data.get(name)) for name in LOG_COLUMNS])
            count += 1
    return count


def _csv_cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def read_csv(path: str | Path, columns: ColumnMapping | None = None) -> Iterator[LogEvent]:
    """Events of a CSV log, row by row (streaming). Without ``columns``, the layout
    ``write_csv`` writes; with it, another system's export (see :class:`ColumnMapping`).
    An impression-level export is read column by column (``model.logs.columnar``) until
    a batch needs the row reader, which reads on from that batch's first row."""
    mapping = columns if columns is not None else ColumnMapping()
    # Lists of events chained in C: no Python frame resumed per event (a third of the
    # columnar reader's time went to ``yield``).
    return itertools.chain.from_iterable(_event_lists(path, mapping))


def _event_lists(path: str | Path, mapping: ColumnMapping) -> Iterator[list[LogEvent]]:
    first: int | None = 1
    if _columnar(mapping):
        batches = _read_columns(path, mapping)
        while True:
            try:
                events = next(batches)
            except StopIteration as stop:
                first = stop.value
                break
            yield events
    if first is not None:
        yield from _read_rows(path, mapping, first)


def _read_rows(path: str | Path, mapping: ColumnMapping, first: int) -> Iterator[list[LogEvent]]:
    """Events of the rows from row ``first`` on, a list per row (the rows before it are
    not parsed)."""
    with _open_text(path, "r", mapping.encoding) as text:
        reader = csv.reader(text, delimiter=mapping.delimiter)
        header = _next_row(reader, path, 0)
        if header is None:
            return
        plan = CsvPlan(mapping, header, path)
        number = 0
        while (row := _next_row(reader, path, number + 1)) is not None:
            number += 1
            if number < first:
                continue
            try:
                events = plan.events(row, number)
            except RowError as exc:
                raise LogFormatError(
                    f"{path}: row {number} (line {reader.line_num}): {exc}"
                ) from None
            yield events


def _columnar(mapping: ColumnMapping) -> bool:
    return (
        mapping.impression_level
        and not isinstance(mapping.context, str)
        and codecs.lookup(mapping.encoding).name == "utf-8"
    )


def columnar_plan(path: str | Path, mapping: ColumnMapping) -> CsvPlan | None:
    """The plan of an impression-level export the column-wise readers can take, checked
    against its header; None when they cannot (another mapping, no header, a header
    over several lines): the row reader reads such a file."""
    if not _columnar(mapping):
        return None
    with _open_text(path, "r", mapping.encoding) as text:
        reader = csv.reader(text, delimiter=mapping.delimiter)
        header = _next_row(reader, path, 0)
        if header is None or reader.line_num != 1:
            return None
        plan = CsvPlan(mapping, header, path)
    assert plan.rows is not None
    return plan


def _read_columns(
    path: str | Path, mapping: ColumnMapping
) -> Generator[list[LogEvent], None, int | None]:
    """The events of an impression-level export, a list per batch of rows; returns the
    row from which the row reader must read on (None: all read)."""
    plan = columnar_plan(path, mapping)
    if plan is None:
        return 1
    assert plan.rows is not None
    context = plan.context_cells or []
    batches = read_batches(
        path, mapping, plan.width, plan.cells["decision"], plan.rows, context, plan.absent
    )
    try:
        yield from batches
    except Fallback as exc:
        return exc.first
    return None


def _next_row(reader: Any, path: str | Path, number: int) -> list[str] | None:
    """The next non-blank row, or None at the end; ``number`` is its row number."""
    try:
        for row in reader:
            if row:
                return list(row)
        return None
    except (csv.Error, UnicodeDecodeError) as exc:
        where = "header" if number == 0 else f"row {number}"
        raise LogFormatError(f"{path}: {where} (line {reader.line_num + 1}): {exc}") from None


def count_csv(path: str | Path, columns: ColumnMapping | None = None) -> int:
    """Rows after the header, blank ones left out (rows a mapping skips still count)."""
    mapping = columns if columns is not None else ColumnMapping()
    with _open_text(path, "r", mapping.encoding) as text:
        rows = sum(1 for row in csv.reader(text, delimiter=mapping.delimiter) if row)
    return max(rows - 1, 0)
