"""The event log format shared by replay, training and evaluation.

A log holds requests, decisions (with their propensities), impressions and conversions:
one wire-contract event (DESIGN §3) per line or row, plus its kind, ``type``:
``decision-request``, ``decision``, ``impression`` or ``conversion``. Events of every
kind keep their ``event_id``, so a repeated or resumed replay is recognised. The same
events can be stored three ways; ``read_log``/``write_log``/``count_events`` pick one from
the file suffix:

JSON Lines (``.jsonl``, ``.json``, any other suffix)
    One event per line as the contract's JSON object plus ``"type"``. A last line without
    its newline is still being written and is left for the next read.

Parquet (``.parquet``, ``.pq``)
    One row per event with the columns of ``LOG_COLUMNS``: ``type``, then one column per
    field of any kind (null where the row's kind has no such field); ``context`` and
    ``candidates`` hold JSON text.

CSV (``.csv``, or gzip-compressed ``.csv.gz``)
    ``write_csv`` writes a header row and the columns of ``LOG_COLUMNS``, as Parquet: an
    empty cell is null, booleans are ``true``/``false``, floats are written exactly,
    ``context``/``candidates`` are JSON text. ``read_csv`` reads such a file back to the
    same events; the only loss is that ``""`` in a string field that may be null
    (``touchpoint``, ``reason``, ``arm_id``, ...) reads back as null.

    Another system's export is read as it is, without rewriting it, through a
    :class:`ColumnMapping`, usually a JSON file (``load_column_mapping``, or
    ``nudge replay|evaluate|train --columns FILE``). Every key is optional::

        {
          "columns":  {"event_id": "EVENT_ID", "ts": "EVENT_TIME", "user_id": "CUSTOMER",
                       "type": "EVENT", "decision_id": "OFFER_ID", "arm_id": "NUDGE"},
          "context":  ["AGE", "INCOME", "REGION"],
          "types":    {"REQ": "decision-request", "OFFER": "decision",
                       "VIEW": "impression", "BUY": "conversion", "LOGIN": null},
          "defaults": {"policy": "legacy-rules", "model_version": "crm-export"},
          "ts_unit":  "ms"
        }

    ``columns``
        our field name (a name of ``LOG_COLUMNS`` other than ``context``) -> the column
        that holds it. A field not named here is read from a column of its own name, if
        the file has one; columns nobody reads are ignored.
    ``context``
        where a request's ``context`` comes from: one column of JSON object text
        (``"FEATURES_JSON"``), a list of plain columns, each a feature of the same name
        (``["AGE", "REGION"]``), or an object feature -> column (``{"age": "AGE"}``). A
        plain cell holding a number becomes a number (int, else float; an integer with a
        leading zero such as ``007`` stays text, as do ``nan``/``inf``), any other cell is
        text, and an empty cell leaves the feature out. Default: the ``context`` column as
        JSON text.
    ``types``
        their values of the type column -> ours (one of the four kinds), or ``null`` to
        skip the rows of that value. Our own four names are accepted too.
    ``type``
        the kind of every row, for a file holding one kind only; no type column is read
        (not combinable with ``types`` or ``columns.type``).
    ``ts_unit``
        ``"ms"`` (default) or ``"s"``: the unit of numeric timestamps (fractions allowed,
        floored to the millisecond). A ``ts`` cell that is not a number is read as ISO
        8601 (``2025-01-31T09:30:00.250+09:00``, ``2025-01-31 09:30:00``), converted to
        epoch milliseconds; without an offset it is UTC.
    ``defaults``
        field -> value (JSON number, bool or string of the field's type) used when the
        field's column is absent or its cell empty.
    ``delimiter`` (default ``,``), ``encoding`` (default ``utf-8``; a byte-order mark is
    skipped), ``description`` (free text, ignored).

    An unknown key, an unknown field name or a value of the wrong type in a mapping is
    refused with a :class:`LogFormatError` naming it.

    Cells are read by field: ``schema_version`` an integer (1 when the column is absent or
    the cell empty); ``propensity``, ``score``, ``value`` finite numbers; ``explored``
    ``true/false``, ``1/0``, ``yes/no``, ``y/n``, ``t/f`` in any case; ``candidates`` a
    JSON array or arm ids separated by ``|``; every other field text, as it is. An empty
    cell (or an absent column) takes the mapping's default, else the field's own default
    (``context`` {}, ``value`` 1, ``candidates``/``touchpoint``/``reason``/a conversion's
    ``decision_id`` null); else an empty cell is null where the field may be null, ``""``
    for a text field that may be empty (a decision's ``decision_id``, ``request_id``,
    ``policy``, ``model_version``); anything else (an absent column, an empty ``ts``,
    ``event_id``, ``user_id``...) is an error. Header names and type values are stripped
    of spaces. With a constant ``type``, the columns that kind requires are checked in
    the header before any row is read.

Errors: a bad line or row raises :class:`LogFormatError` (a ``ValueError``) naming the
file, the line or row (CSV: ``row N (line L)``, rows counted after the header) and the
reason: a missing column or empty cell a kind requires, an unparsable number, boolean or
timestamp, an unknown type value, bad JSON, a value the contract refuses. A column the
mapping names but the CSV header lacks is reported once, before any row is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from model.events import LogEvent
from model.logs.common import LOG_COLUMNS, LogFormatError
from model.logs.csvlog import count_csv, read_csv, write_csv
from model.logs.jsonl import decode_log_line, encode_log_line, read_jsonl, write_jsonl
from model.logs.mapping import ColumnMapping, Outcome, is_csv, load_column_mapping
from model.logs.parquet import is_parquet, parquet_rows, read_parquet, write_parquet

__all__ = [
    "LOG_COLUMNS",
    "ColumnMapping",
    "LogFormatError",
    "Outcome",
    "check_readable",
    "count_events",
    "decode_log_line",
    "encode_log_line",
    "is_csv",
    "load_column_mapping",
    "read_csv",
    "read_jsonl",
    "read_log",
    "read_parquet",
    "write_csv",
    "write_jsonl",
    "write_log",
    "write_parquet",
]


def read_log(path: str | Path, columns: ColumnMapping | None = None) -> Iterator[LogEvent]:
    """Events of a JSONL, Parquet or CSV log, by suffix; ``columns`` maps a CSV's columns
    (a mapping for another format is a :class:`LogFormatError`). A missing file, a
    directory or an unreadable one is a :class:`LogFormatError` naming it, now."""
    if columns is not None and not is_csv(path):
        raise LogFormatError(
            f"a column mapping applies to CSV logs (.csv, .csv.gz) only, not to {path}"
        )
    check_readable(path)
    if is_csv(path):
        return read_csv(path, columns)
    return read_parquet(path) if is_parquet(path) else read_jsonl(path)


def check_readable(path: str | Path) -> None:
    """Raise :class:`LogFormatError` ``log PATH: <why>`` unless ``path`` is a readable file."""
    where = Path(path)
    if not where.exists():
        raise LogFormatError(f"log {path}: no such file")
    if not where.is_file():
        raise LogFormatError(f"log {path}: not a file")
    try:
        with open(where, "rb"):
            pass
    except OSError as exc:
        raise LogFormatError(f"log {path}: cannot read it ({exc.strerror})") from None


def write_log(path: str | Path, events: Iterable[LogEvent]) -> int:
    """Write ``events`` as JSONL, Parquet or CSV, by suffix; returns the count."""
    if is_csv(path):
        return write_csv(path, events)
    return write_parquet(path, events) if is_parquet(path) else write_jsonl(path, events)


def count_events(path: str | Path, columns: ColumnMapping | None = None) -> int:
    """Number of events in a log without decoding them (Parquet metadata, JSONL lines,
    CSV rows after the header, blank ones left out; rows a mapping skips still count)."""
    check_readable(path)
    if is_parquet(path):
        return parquet_rows(path)
    if is_csv(path):
        return count_csv(path, columns)
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())
