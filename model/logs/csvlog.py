"""CSV logs, written like Parquet, and read from other systems through a column mapping."""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import IO, Any

import msgspec
import msgspec.inspect

from model.events import (
    SCHEMA_VERSION,
    LogEvent,
)
from model.logs.common import (
    BOOL_FIELDS,
    FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    JSON_COLUMNS,
    KINDS,
    LOG_COLUMNS,
    TEXT_FIELDS,
    FieldInfo,
    LogFormatError,
)

_MAPPING_KEYS = (
    "columns",
    "context",
    "types",
    "type",
    "ts_unit",
    "defaults",
    "delimiter",
    "encoding",
    "description",
)
_MAPPABLE = tuple(c for c in LOG_COLUMNS if c != "context")
_TS_UNITS = ("ms", "s")


@dataclass(frozen=True)
class ColumnMapping:
    """How the columns of another system's CSV export map onto log events.

    ``ColumnMapping()`` reads what ``write_csv`` writes. See the module docstring for
    every key; :meth:`from_file` loads the JSON form. Invalid mappings raise
    :class:`LogFormatError` when constructed.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    context: str | Sequence[str] | Mapping[str, str] | None = None
    types: Mapping[str, str | None] = field(default_factory=dict)
    type: str | None = None
    ts_unit: str = "ms"
    defaults: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    delimiter: str = ","
    encoding: str = "utf-8"
    description: str = ""

    def __post_init__(self) -> None:
        problem = _mapping_problem(self)
        if problem:
            raise LogFormatError(f"column mapping: {problem}")

    @classmethod
    def from_dict(cls, data: object, source: str = "") -> ColumnMapping:
        """A mapping from its JSON form (``source`` names it in error messages)."""
        where = f"column mapping {source}: " if source else "column mapping: "
        if not isinstance(data, dict):
            raise LogFormatError(f"{where}must be a JSON object, not {_json_kind(data)}")
        for key in data:
            if key not in _MAPPING_KEYS:
                raise LogFormatError(
                    f"{where}unknown key {key!r}{_did_you_mean(key, _MAPPING_KEYS)} "
                    f"(known keys: {', '.join(_MAPPING_KEYS)})"
                )
        try:
            doc = msgspec.convert(data, _MappingDoc)
        except msgspec.ValidationError as exc:
            raise LogFormatError(f"{where}{exc}") from None
        context = tuple(doc.context) if isinstance(doc.context, list) else doc.context
        try:
            return cls(
                columns=doc.columns,
                context=context,
                types=doc.types,
                type=doc.type,
                ts_unit=doc.ts_unit,
                defaults=doc.defaults,
                delimiter=doc.delimiter,
                encoding=doc.encoding,
                description=doc.description,
            )
        except LogFormatError as exc:
            raise LogFormatError(where + str(exc).removeprefix("column mapping: ")) from None

    @classmethod
    def from_file(cls, path: str | Path) -> ColumnMapping:
        """The mapping in JSON file ``path``."""
        return load_column_mapping(path)

    def column(self, name: str) -> str:
        """The column holding field ``name``."""
        return self.columns.get(name, name)

    def context_columns(self) -> list[tuple[str, str]] | None:
        """``[(feature, column)]`` when the context is built from plain columns."""
        if self.context is None or isinstance(self.context, str):
            return None
        if isinstance(self.context, Mapping):
            return list(self.context.items())
        return [(c, c) for c in self.context]

    def named_columns(self) -> list[str]:
        """Every column the mapping names explicitly (each must be in the header)."""
        named = list(self.columns.values())
        if isinstance(self.context, str):
            named.append(self.context)
        named += [column for _, column in self.context_columns() or ()]
        return list(dict.fromkeys(named))


class _MappingDoc(msgspec.Struct):
    columns: dict[str, str] = {}
    context: str | list[str] | dict[str, str] | None = None
    types: dict[str, str | None] = {}
    type: str | None = None
    ts_unit: str = "ms"
    defaults: dict[str, str | int | float | bool] = {}
    delimiter: str = ","
    encoding: str = "utf-8"
    description: str = ""


def _mapping_problem(m: ColumnMapping) -> str | None:
    """What is wrong with ``m``, or None."""
    for name, column in m.columns.items():
        if name == "context":
            return 'map the context with the "context" key, not in "columns"'
        if name not in _MAPPABLE:
            return (
                f"unknown field {name!r} in columns{_did_you_mean(name, _MAPPABLE)} "
                f"(fields: {', '.join(_MAPPABLE)})"
            )
        if not isinstance(column, str) or not column.strip():
            return f"columns.{name} must name a column"
    kinds = ", ".join(KINDS)
    for value, kind in m.types.items():
        if kind is not None and kind not in KINDS:
            return f"types[{value!r}] is {kind!r}, not one of {kinds} (or null to skip)"
    if m.type is not None:
        if m.type not in KINDS:
            return f"type is {m.type!r}, not one of {kinds}"
        if m.types or "type" in m.columns:
            return 'give either a constant "type" or a type column ("types", columns.type)'
    problem = _context_problem(m.context)
    if problem:
        return problem
    if m.ts_unit not in _TS_UNITS:
        return f"ts_unit is {m.ts_unit!r}, not one of {', '.join(_TS_UNITS)}"
    for name, default in m.defaults.items():
        problem = _default_problem(name, default)
        if problem:
            return problem
    if len(m.delimiter) != 1 or m.delimiter in '\r\n"':
        return f"delimiter must be one character other than a quote or newline, not {m.delimiter!r}"
    try:
        codecs.lookup(m.encoding)
    except LookupError:
        return f"unknown encoding {m.encoding!r}"
    return None


def _context_problem(context: object) -> str | None:
    if context is None:
        return None
    if isinstance(context, str):
        return None if context.strip() else "context must name a column"
    if isinstance(context, Mapping):
        pairs = list(context.items())
    elif isinstance(context, Sequence):
        pairs = [(c, c) for c in context]
    else:
        return "context must be a column name, a list of columns or an object feature -> column"
    if not pairs:
        return "context names no column"
    for feature, column in pairs:
        if not isinstance(feature, str) or not isinstance(column, str) or not column.strip():
            return f"context: {feature!r} -> {column!r} is not a feature -> column name"
    if len({feature for feature, _ in pairs}) != len(pairs):
        return "context names a feature twice"
    return None


def _default_problem(name: str, value: object) -> str | None:
    allowed = tuple(c for c in _MAPPABLE if c not in ("type", "candidates"))
    if name not in allowed:
        return (
            f"unknown field {name!r} in defaults{_did_you_mean(name, allowed)} "
            f"(fields: {', '.join(allowed)})"
        )
    if name in INT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "an integer"
    elif name in FLOAT_FIELDS:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        want = "a number"
    elif name in BOOL_FIELDS:
        ok, want = isinstance(value, bool), "true or false"
    else:
        ok, want = isinstance(value, str), "a string"
    return None if ok else f"defaults.{name} must be {want}, not {value!r}"


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _json_kind(value: object) -> str:
    return {list: "an array", str: "a string", type(None): "null"}.get(
        type(value), "a " + type(value).__name__
    )


def load_column_mapping(path: str | Path, *, log: str | Path | None = None) -> ColumnMapping:
    """The column mapping in JSON file ``path``. With ``log``, first check that the log
    is a CSV file: a mapping means nothing for JSONL or Parquet."""
    if log is not None and not is_csv(log):
        raise LogFormatError(
            f"a column mapping applies to CSV logs (.csv, .csv.gz) only, not to {log}"
        )
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise LogFormatError(f"column mapping {path}: cannot read it ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LogFormatError(f"column mapping {path}: not JSON ({exc})") from None
    return ColumnMapping.from_dict(data, source=str(path))


def is_csv(path: str | Path) -> bool:
    name = Path(path).name.lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


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
                event = plan.event(row)
            except _RowError as exc:
                raise LogFormatError(
                    f"{path}: row {number} (line {reader.line_num}): {exc}"
                ) from None
            if event is not None:
                yield event


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


class _RowError(Exception):
    """Why one row is not an event; read_csv adds the file and row."""


_OMIT = object()
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_LEADING_ZERO = re.compile(r"[+-]?0\d", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
                _label(f.name, column)
                for f, column, i in self.cells[mapping.type]
                if i is None
                and f.required
                and f.name != "schema_version"
                and f.name not in mapping.defaults
            ]
            if lacking:
                raise LogFormatError(
                    f"{path}: the header has no column for {', '.join(lacking)}, required "
                    f"for {mapping.type} rows (header: {shown})"
                )

    def event(self, row: list[str]) -> LogEvent | None:
        if len(row) != self.width:
            raise _RowError(f"{len(row)} cells, but the header has {self.width} columns")
        kind = self._kind(row)
        if kind is None:
            return None
        data: dict[str, Any] = {}
        for f, column, i in self.cells[kind]:
            if f.name == "context" and self.context_cells is not None:
                data["context"] = {
                    feature: _context_value(row[j])
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
                data[f.name] = _parse_cell(f.name, column, cell, self.mapping.ts_unit)
        try:
            return msgspec.convert(data, KINDS[kind])
        except msgspec.ValidationError as exc:
            reason = str(exc)
            at = _AT_FIELD.search(reason)
            if at and self.mapping.column(at.group(1)) != at.group(1):
                reason += f" (column {self.mapping.column(at.group(1))!r})"
            raise _RowError(f"invalid {kind}: {reason}") from None

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
            raise _RowError(f"empty type column {column!r}")
        expected = list(dict.fromkeys([*self.mapping.types, *KINDS]))
        raise _RowError(
            f"unknown type {value!r} in column {column!r} (expected one of {', '.join(expected)})"
        )

    def _missing(self, kind: str, f: FieldInfo, column: str, *, absent: bool) -> object:
        """The value of a field whose column is absent or whose cell is empty."""
        if f.name in self.mapping.defaults:
            return self.mapping.defaults[f.name]
        if f.name == "schema_version":
            return SCHEMA_VERSION
        if not f.required:
            return _OMIT
        if not absent and f.nullable:
            return None
        if not absent and f.blank_ok:
            return ""
        if absent:
            raise _RowError(f"no column {_label(f.name, column)}, required for {kind} rows")
        raise _RowError(f"empty {_label(f.name, column)}, required for {kind} rows")


def _label(name: str, column: str) -> str:
    return repr(column) if column == name else f"{column!r} ({name})"


def _parse_cell(name: str, column: str, cell: str, ts_unit: str) -> object:
    if name in TEXT_FIELDS:
        return cell
    text = cell.strip()
    if name == "ts":
        return _parse_ts(text, ts_unit, column)
    if name == "schema_version":
        if not _INTEGER.fullmatch(text):
            raise _RowError(f"{_label(name, column)}: {cell!r} is not an integer")
        return int(text)
    if name in FLOAT_FIELDS:
        number = float(text) if _NUMBER.fullmatch(text) else math.nan
        if not math.isfinite(number):
            raise _RowError(f"{_label(name, column)}: {cell!r} is not a finite number")
        return number
    if name in BOOL_FIELDS:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise _RowError(
            f"{_label(name, column)}: {cell!r} is not a boolean (true/false, 1/0, yes/no)"
        )
    if name == "candidates" and not text.startswith("["):
        return [arm.strip() for arm in text.split("|")]
    if name in JSON_COLUMNS:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _RowError(f"bad JSON in {_label(name, column)}: {exc}") from None
    raise AssertionError(f"no parser for field {name!r}")  # pragma: no cover


def _parse_ts(text: str, unit: str, column: str) -> int:
    if _NUMBER.fullmatch(text):
        if text.isdigit():
            return int(text) * (1000 if unit == "s" else 1)
        ms = Decimal(text) * (1000 if unit == "s" else 1)
        return int(ms.to_integral_value(rounding=ROUND_FLOOR))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError(
            f"{_label('ts', column)}: {text!r} is neither epoch {unit} nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _context_value(cell: str) -> int | float | str:
    text = cell.strip()
    if _LEADING_ZERO.match(text) and _INTEGER.fullmatch(text):
        return cell
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else cell
    return cell


def count_csv(path: str | Path, columns: ColumnMapping | None = None) -> int:
    """Rows after the header, blank ones left out (rows a mapping skips still count)."""
    mapping = columns if columns is not None else ColumnMapping()
    with _open_text(path, "r", mapping.encoding) as text:
        rows = sum(1 for row in csv.reader(text, delimiter=mapping.delimiter) if row)
    return max(rows - 1, 0)
