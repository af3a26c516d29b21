"""Which cell of a CSV row feeds which field: the header checked once, then rows read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from model.events import SCHEMA_VERSION, Decision, LogEvent
from model.logs.cells import RowError, context_value, label, parse_cell
from model.logs.common import FIELDS, KINDS, TEXT_FIELDS, FieldInfo, LogFormatError
from model.logs.impressions import SYNTHESIZED, RowExpansion
from model.logs.mapping import ColumnMapping

__all__ = ["OMIT", "CsvPlan"]

OMIT = object()
_AT_FIELD = re.compile(r"at `\$\.(\w+)`")


class CsvPlan:
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
                if value is not OMIT:
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

    def absent(self, f: FieldInfo, column: str) -> object:
        """The value of a decision's field whose column the header lacks (None: the
        field's own default), or a ``RowError``; for the column-wise readers."""
        value = self._missing("decision", f, column, absent=True)
        return None if value is OMIT else value

    def _missing(self, kind: str, f: FieldInfo, column: str, *, absent: bool) -> object:
        """The value of a field whose column is absent or whose cell is empty."""
        if f.name in self.mapping.defaults:
            return self.mapping.defaults[f.name]
        if f.name in self.synth:
            return self.synth[f.name]
        if f.name == "schema_version":
            return SCHEMA_VERSION
        if not f.required:
            return OMIT
        if not absent and f.nullable:
            return None
        if not absent and f.blank_ok:
            return ""
        if absent:
            raise RowError(f"no column {label(f.name, column)}, required for {kind} rows")
        raise RowError(f"empty {label(f.name, column)}, required for {kind} rows")
