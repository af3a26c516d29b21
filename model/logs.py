"""The event log format shared by replay, training and evaluation.

A log is JSON Lines: one wire-contract event per line (DESIGN §3) plus a ``type`` field
naming its kind: ``decision-request``, ``decision``, ``impression`` or ``conversion``.
Events of every kind keep their ``event_id`` so a repeated replay is recognised.

The same events can be stored as Parquet (``read_parquet``/``write_parquet``): one row
per event, a ``type`` column, one column per field of any kind (null where the kind has
no such field) and ``context``/``candidates`` as JSON text. ``read_log``/``write_log``
pick the format from the file suffix (``.jsonl``, ``.json``, ``.parquet``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from model.events import LogEvent

__all__ = [
    "LogFormatError",
    "count_events",
    "decode_log_line",
    "encode_log_line",
    "read_jsonl",
    "read_log",
    "read_parquet",
    "write_jsonl",
    "write_log",
    "write_parquet",
]

_decoder = msgspec.json.Decoder(LogEvent)
_encoder = msgspec.json.Encoder()


class LogFormatError(ValueError):
    """A log line is not a valid event; the message names the line."""


def decode_log_line(line: bytes | str) -> LogEvent:
    return _decoder.decode(line)


def encode_log_line(event: LogEvent) -> bytes:
    return _encoder.encode(event)


def read_jsonl(path: str | Path) -> Iterator[LogEvent]:
    """Events of a JSONL log. A last line without its newline is a record still being
    appended by a live writer (the demo, a tailing collector) and is left for next time."""
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip() or not line.endswith(b"\n"):
                continue
            try:
                yield _decoder.decode(line)
            except msgspec.ValidationError as exc:
                raise LogFormatError(f"{path}:{number}: {exc}") from None
            except msgspec.DecodeError as exc:
                raise LogFormatError(f"{path}:{number}: not JSON ({exc})") from None


def write_jsonl(path: str | Path, events: Iterable[LogEvent]) -> int:
    """Write ``events`` to ``path``; returns how many were written."""
    count = 0
    with open(path, "wb") as out:
        for event in events:
            out.write(_encoder.encode(event) + b"\n")
            count += 1
    return count


_PARQUET_COLUMNS = (
    "type",
    "schema_version",
    "event_id",
    "ts",
    "user_id",
    "context",
    "candidates",
    "touchpoint",
    "decision_id",
    "request_id",
    "arm_id",
    "product_id",
    "strategy_id",
    "propensity",
    "explored",
    "policy",
    "model_version",
    "score",
    "reason",
    "kind",
    "value",
)
_JSON_COLUMNS = ("context", "candidates")


def _row(event: LogEvent) -> dict[str, object]:
    row = msgspec.to_builtins(event)
    row["type"] = type(event).__struct_config__.tag
    for name in _JSON_COLUMNS:
        if name in row:
            row[name] = json.dumps(row[name]) if row[name] is not None else None
    return row


def write_parquet(path: str | Path, events: Iterable[LogEvent], batch_rows: int = 50_000) -> int:
    """Write ``events`` as Parquet row groups of ``batch_rows``; returns the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _arrow_type(pa, c)) for c in _PARQUET_COLUMNS])
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


def read_parquet(path: str | Path) -> Iterator[LogEvent]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            yield _from_row(row, path, number)


def _from_row(row: dict[str, object], path: str | Path, number: int) -> LogEvent:
    clean = {k: v for k, v in row.items() if v is not None}
    try:
        for name in _JSON_COLUMNS:
            if name in clean:
                clean[name] = json.loads(str(clean[name]))
        return msgspec.convert(clean, LogEvent)
    except (msgspec.ValidationError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"{path}: row {number}: {exc}") from None


def read_log(path: str | Path) -> Iterator[LogEvent]:
    """Events of a JSONL or Parquet log, by suffix."""
    return read_parquet(path) if _is_parquet(path) else read_jsonl(path)


def write_log(path: str | Path, events: Iterable[LogEvent]) -> int:
    return write_parquet(path, events) if _is_parquet(path) else write_jsonl(path, events)


def count_events(path: str | Path) -> int:
    """Number of events in a log without decoding them (Parquet metadata, JSONL lines)."""
    if _is_parquet(path):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(str(path)).metadata.num_rows)
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())


def _is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".parquet", ".pq")
