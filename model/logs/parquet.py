"""Parquet logs: a row per event, a column per field (see the package docstring)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect

from model.events import (
    LogEvent,
)
from model.logs.common import (
    FIELDS,
    JSON_COLUMNS,
    KINDS,
    LOG_COLUMNS,
    LogFormatError,
)


def _row(event: LogEvent) -> dict[str, object]:
    row = msgspec.to_builtins(event)
    row["type"] = type(event).__struct_config__.tag
    for name in JSON_COLUMNS:
        if name in row:
            row[name] = json.dumps(row[name]) if row[name] is not None else None
    return row


def write_parquet(path: str | Path, events: Iterable[LogEvent], batch_rows: int = 50_000) -> int:
    """Write ``events`` as Parquet row groups of ``batch_rows``; returns the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _arrow_type(pa, c)) for c in LOG_COLUMNS])
    count, rows = 0, []
    with pq.ParquetWriter(str(path), schema) as writer:
        for event in events:
            rows.append(_row(event))
            if len(rows) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                count, rows = count + len(rows), []
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    return count + len(rows)


def _arrow_type(pa: object, column: str) -> object:
    types = {
        "schema_version": "int64",
        "ts": "int64",
        "propensity": "float64",
        "score": "float64",
        "value": "float64",
        "explored": "bool_",
    }
    return getattr(pa, types.get(column, "string"))()


def _open(path: str | Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LogFormatError(f"log {path}: not a readable Parquet file ({reason})") from None


def parquet_rows(path: str | Path) -> int:
    return int(_open(path).metadata.num_rows)


def read_parquet(path: str | Path) -> Iterator[LogEvent]:
    number = 0
    for batch in _open(path).iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            yield _from_row(row, path, number)


def _from_row(row: dict[str, object], path: str | Path, number: int) -> LogEvent:
    kind = str(row.get("type"))
    if kind not in KINDS:
        raise LogFormatError(f"{path}: row {number}: unknown type {row.get('type')!r}")
    # a null is the field's default where it has one, else an explicit null (a decision
    # without an arm has arm_id null, which the contract requires to be present)
    clean = {
        f.name: row.get(f.name) for f in FIELDS[kind] if row.get(f.name) is not None or f.required
    }
    try:
        for name in JSON_COLUMNS:
            if clean.get(name) is not None:
                clean[name] = json.loads(str(clean[name]))
        return msgspec.convert(clean, KINDS[kind])
    except (msgspec.ValidationError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"{path}: row {number}: {exc}") from None


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".parquet", ".pq")
