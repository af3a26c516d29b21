"""The column mapping of another system's CSV export (see the package docstring)."""

from __future__ import annotations

import codecs
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from model.logs.common import (
    BOOL_FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    KINDS,
    LOG_COLUMNS,
    LogFormatError,
)

__all__ = ["ColumnMapping", "Outcome", "is_csv", "load_column_mapping"]

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
    "outcome",
    "position",
)
_MAPPABLE = tuple(c for c in LOG_COLUMNS if c != "context")
_TS_UNITS = ("ms", "s")


class Outcome(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The outcome on a decision row: ``column`` holds the value of a conversion of
    ``kind`` (0 or empty: none), e.g. ``{"column": "click", "kind": "click"}``."""

    column: str
    kind: str


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
    outcome: Outcome | None = None
    position: str | None = None

    def __post_init__(self) -> None:
        if self.outcome is not None and self.type is None:
            object.__setattr__(self, "type", "decision")
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
                outcome=doc.outcome,
                position=doc.position,
            )
        except LogFormatError as exc:
            raise LogFormatError(where + str(exc).removeprefix("column mapping: ")) from None

    @classmethod
    def from_file(cls, path: str | Path) -> ColumnMapping:
        """The mapping in JSON file ``path``."""
        return load_column_mapping(path)

    @property
    def impression_level(self) -> bool:
        """One row = one decision shown with its outcome (``outcome`` is given)."""
        return self.outcome is not None

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
        if self.outcome is not None:
            named.append(self.outcome.column)
        if self.position is not None:
            named.append(self.position)
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
    outcome: Outcome | None = None
    position: str | None = None


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
        if not isinstance(column, str):
            return f'columns.{name} must name a column ("" is an unnamed one)'
    kinds = ", ".join(KINDS)
    for value, kind in m.types.items():
        if kind is not None and kind not in KINDS:
            return f"types[{value!r}] is {kind!r}, not one of {kinds} (or null to skip)"
    if m.type is not None:
        if m.type not in KINDS:
            return f"type is {m.type!r}, not one of {kinds}"
        if m.types or "type" in m.columns:
            return 'give either a constant "type" or a type column ("types", columns.type)'
    if m.outcome is not None and m.type not in (None, "decision"):
        return '"outcome" puts the outcome on decision rows: "type" must be "decision"'
    if m.outcome is not None and (m.types or "type" in m.columns):
        return '"outcome" reads one decision per row: give no type column'
    if m.outcome is not None and not m.outcome.kind.strip():
        return "outcome.kind must name a conversion kind (e.g. click)"
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
