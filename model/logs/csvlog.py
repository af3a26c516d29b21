"""CSV logs, written like Parquet, and read from other systems through a column mapping."""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from model.events import (
    SCHEMA_VERSION,
    Decision,
    LogEvent,
)
from model.logs.cells import RowError, context_value, label, parse_cell
from model.logs.common import (
    FIELDS,
    JSON_COLUMNS,
    KINDS,
    LOG_COLUMNS,
    TEXT_FIELDS,
    FieldInfo,
    LogFormatError,
)
from model.logs.impressions import SYNTHESIZED, RowExpansion
from model.logs.mapping import ColumnMapping


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
    ``write_csv`` writes; with it, another system's export (see :class:`ColumnMapping`)."""
    mapping = columns if columns is not None else ColumnMapping()
    with _open_text(path, "r", mapping.encoding) as text:
        reader = csv.reader(text, delimiter=mapping.delimiter)
        header = _next_row(reader, path, 0)
        if header is None:
            return
        plan = _CsvPlan(mapping, header, path)
        number = 0
        while (row := _next_row(reader, path, number + 1)) is not None:
            number += 1
            try:
                events = plan.events(row, number)
            except RowError as exc:
                raise LogFormatError(
                    f"{path}: row {number} (line {reader.line_num}): {exc}"
                ) from None
            yield from events


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


_OMIT = object()
_AT_FIELD = re.compile(r"at `\$\.(\w+)`")


class _CsvPlan:
    """Which cell of a row feeds which field, checked against the header once."""

    def __init__(self, mapping: ColumnMapping, header: list[str], path: str | Path) -> None:
        self.mapping = mapping
        self.width = len(header)
        index: dict[str, int] = {}
        twice: set[str] = set()
        for i, name in enumerate(header):
            name = name.strip()
            if name in index:
                twice.add(name)
            index.setdefault(name, i)
        shown = ", ".join(repr(h.strip()) for h in header[:30]) + (
            ", ..." if len(header) > 30 else ""
        )
        missing = [c for c in mapping.named_columns() if c not in index]
        if missing:
            names = ", ".join(repr(c) for c in missing)
            raise LogFormatError(
                f"{path}: the header has no column {names}, which the column mapping "
                f"names (header: {shown})"
            )
        self.type_index = -1
        if mapping.type is None:
            column = mapping.column("type")
            if column not in index:
                raise LogFormatError(
                    f"{path}: the header has no type column {column!r} (map it with "
                    f'columns.type, or give a constant "type"; header: {shown})'
                )
            self.type_index = index[column]
        self.context_cells: list[tuple[str, int]] | None = None
        if (pairs := mapping.context_columns()) is not None:
            self.context_cells = [(feature, index[column]) for feature, column in pairs]
        json_context = mapping.context if isinstance(mapping.context, str) else "context"
        self.cells: dict[str, list[tuple[FieldInfo, str, int | None]]] = {}
        for kind, fields in FIELDS.items():
            self.cells[kind] = [
                (f, column, index.get(column))
                for f in fields
                for column in [json_context if f.name == "context" else mapping.column(f.name)]
            ]
        used = {c for cells in self.cells.values() for _, c, i in cells if i is not None}
        used |= set(mapping.named_columns())
        if mapping.type is None:
            used.add(mapping.column("type"))
        doubled = sorted(used & twice)
        if doubled:
            raise LogFormatError(
                f"{path}: column {', '.join(map(repr, doubled))} appears more than once "
                "in the header"
            )
        if mapping.type is not None:
            lacking = [
                label(f.name, column)
                for f, column, i in self.cells[mapping.type]
                if i is None
                and f.required
                and f.name != "schema_version"
                and f.name not in mapping.defaults
                and not (mapping.impression_level and f.name in SYNTHESIZED)
            ]
            if lacking:
                raise LogFormatError(
                    f"{path}: the header has no column for {', '.join(lacking)}, required "
                    f"for {mapping.type} rows (header: {shown})"
                )

        self.synth: dict[str, object] = {}
        self.rows = RowExpansion(mapping, index) if mapping.impression_level else None

    def events(self, row: list[str], number: int) -> list[LogEvent]:
        """The events of one row: one, none (a skipped type) or, for an impression-level
        export, a request, the decision, its impression and any conversion."""
        if self.rows is None:
            event = self.event(row)
            return [] if event is None else [event]
        self.synth = self.rows.synthesized(row, number)
        decision = self.event(row)
        assert isinstance(decision, Decision)
        return self.rows.expand(row, decision, self.context_cells)

    def event(self, row: list[str]) -> LogEvent | None:
        if len(row) != self.width:
            raise RowError(f"{len(row)} cells, but the header has {self.width} columns")
        kind = self._kind(row)
        if kind is None:
            return None
        data: dict[str, Any] = {}
        for f, column, i in self.cells[kind]:
            if f.name == "context" and self.context_cells is not None:
                data["context"] = {
                    feature: context_value(row[j])
                    for feature, j in self.context_cells
                    if row[j].strip()
                }
                continue
            cell = None if i is None else row[i]
            if cell is None or (cell == "" if f.name in TEXT_FIELDS else not cell.strip()):
                value = self._missing(kind, f, column, absent=cell is None)
                if value is not _OMIT:
                    data[f.name] = value
            else:
                data[f.name] = parse_cell(f.name, column, cell, self.mapping.ts_unit)
        try:
            return msgspec.convert(data, KINDS[kind])
        except msgspec.ValidationError as exc:
            reason = str(exc)
            at = _AT_FIELD.search(reason)
            if at and self.mapping.column(at.group(1)) != at.group(1):
                reason += f" (column {self.mapping.column(at.group(1))!r})"
            raise RowError(f"invalid {kind}: {reason}") from None

    def _kind(self, row: list[str]) -> str | None:
        if self.mapping.type is not None:
            return self.mapping.type
        value = row[self.type_index].strip()
        if value in self.mapping.types:
            return self.mapping.types[value]
        if value in KINDS:
            return value
        column = self.mapping.column("type")
        if not value:
            raise RowError(f"empty type column {column!r}")
        expected = list(dict.fromkeys([*self.mapping.types, *KINDS]))
        raise RowError(
            f"unknown type {value!r} in column {column!r} (expected one of {', '.join(expected)})"
        )

    def _missing(self, kind: str, f: FieldInfo, column: str, *, absent: bool) -> object:
        """The value of a field whose column is absent or whose cell is empty."""
        if f.name in self.mapping.defaults:
            return self.mapping.defaults[f.name]
        if f.name in self.synth:
            return self.synth[f.name]
        if f.name == "schema_version":
            return SCHEMA_VERSION
        if not f.required:
            return _OMIT
        if not absent and f.nullable:
            return None
        if not absent and f.blank_ok:
            return ""
        if absent:
            raise RowError(f"no column {label(f.name, column)}, required for {kind} rows")
        raise RowError(f"empty {label(f.name, column)}, required for {kind} rows")


def count_csv(path: str | Path, columns: ColumnMapping | None = None) -> int:
    """Rows after the header, blank ones left out (rows a mapping skips still count)."""
    mapping = columns if columns is not None else ColumnMapping()
    with _open_text(path, "r", mapping.encoding) as text:
        rows = sum(1 for row in csv.reader(text, delimiter=mapping.delimiter) if row)
    return max(rows - 1, 0)
