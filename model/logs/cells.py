"""Reading one CSV cell as a field's value (shared by the row and impression readers)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from model.logs.common import BOOL_FIELDS, FLOAT_FIELDS, JSON_COLUMNS, TEXT_FIELDS

__all__ = ["RowError", "context_value", "label", "parse_cell", "parse_ts"]


class RowError(Exception):
    """Why one row is not an event; read_csv adds the file and row."""


_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_LEADING_ZERO = re.compile(r"[+-]?0\d", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def label(name: str, column: str) -> str:
    return repr(column) if column == name else f"{column!r} ({name})"


def parse_cell(name: str, column: str, cell: str, ts_unit: str) -> object:
    if name in TEXT_FIELDS:
        return cell
    text = cell.strip()
    if name == "ts":
        return parse_ts(text, ts_unit, column)
    if name == "schema_version":
        if not _INTEGER.fullmatch(text):
            raise RowError(f"{label(name, column)}: {cell!r} is not an integer")
        return int(text)
    if name in FLOAT_FIELDS:
        number = float(text) if _NUMBER.fullmatch(text) else math.nan
        if not math.isfinite(number):
            raise RowError(f"{label(name, column)}: {cell!r} is not a finite number")
        return number
    if name in BOOL_FIELDS:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise RowError(
            f"{label(name, column)}: {cell!r} is not a boolean (true/false, 1/0, yes/no)"
        )
    if name == "candidates" and not text.startswith("["):
        return [arm.strip() for arm in text.split("|")]
    if name in JSON_COLUMNS:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise RowError(f"bad JSON in {label(name, column)}: {exc}") from None
    raise AssertionError(f"no parser for field {name!r}")  # pragma: no cover


def parse_ts(text: str, unit: str, column: str) -> int:
    if _NUMBER.fullmatch(text):
        if text.isdigit():
            return int(text) * (1000 if unit == "s" else 1)
        ms = Decimal(text) * (1000 if unit == "s" else 1)
        return int(ms.to_integral_value(rounding=ROUND_FLOOR))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(
            f"{label('ts', column)}: {text!r} is neither epoch {unit} nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def context_value(cell: str) -> int | float | str:
    text = cell.strip()
    if _LEADING_ZERO.match(text) and _INTEGER.fullmatch(text):
        return cell
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else cell
    return cell
