"""One CSV column (a pyarrow string array) converted to field values at once.

The cell functions of the row reader (``model.logs.cells``) are applied to each
*distinct* value of a column (slots, clicks, user features, propensities repeat), or a
pyarrow cast gives the same values (ISO timestamps). A cell these functions would treat
on its own (empty, unparsable, out of the contract's range) raises :class:`Refused`:
the row reader then reads that batch, with its exact error message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from model.logs.cells import context_value, parse_ts

__all__ = [
    "OMIT",
    "Refused",
    "check_text",
    "combinations",
    "context_table",
    "contexts",
    "distinct",
    "encoded",
    "feature_value",
    "integers",
    "nonempty_text",
    "text_table",
    "timestamp_array",
    "timestamps",
]

OMIT = object()  # an empty context cell: the feature is left out
MAX_ID = 256  # NonEmpty's max_length in the contract
_NUMBER = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_RADIX_LIMIT = 1 << 62


class Refused(Exception):
    """A cell the column-wise reader leaves to the row reader."""


def integers(array: Any) -> np.ndarray:
    """An integer pyarrow array without nulls (dictionary indices, epoch times) as an
    ``(n,) int64`` array, read from its buffer: pyarrow's ``to_numpy`` imports pandas
    on its first call (0.3 s of a ``nudge evaluate`` run)."""
    assert array.null_count == 0
    if len(array) == 0:
        return np.zeros(0, np.int64)
    data = np.frombuffer(array.buffers()[1], np.dtype(f"int{array.type.bit_width}"))
    return data[array.offset : array.offset + len(array)].astype(np.int64)


def nonempty_text(column: Any, *, stripped: bool = False, repeated: bool = False) -> list[str]:
    """The cells as they are: none empty, none longer than an id may be, and with
    ``stripped`` none with spaces around it. With ``repeated`` (arm ids: few distinct
    values) each distinct cell is checked and made a ``str`` once."""
    if len(column) == 0:
        return []
    if not repeated:
        check_text(column, stripped)
        values: list[str] = column.to_pylist()
        return values
    table, codes = text_table(column, stripped=stripped)
    return list(map(table.__getitem__, codes.tolist()))


def text_table(column: Any, *, stripped: bool = False) -> tuple[list[str], np.ndarray]:
    """``(distinct cells, code of each row (n,) int64)`` of a text column whose cells
    :func:`nonempty_text` accepts (else :class:`Refused`)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    if len(column):
        check_text(encoded.dictionary, stripped)
    table: list[str] = encoded.dictionary.to_pylist()
    return table, integers(encoded.indices)


def check_text(cells: Any, stripped: bool) -> None:
    """:class:`Refused` unless every cell is a non-empty id (at most 256 characters; with
    ``stripped`` no spaces around it)."""
    import pyarrow.compute as pc

    lengths = pc.utf8_length(cells)
    if pc.max(lengths).as_py() > MAX_ID or pc.min(lengths).as_py() == 0:
        raise Refused
    if stripped and not pc.all(pc.equal(cells, pc.utf8_trim_whitespace(cells))).as_py():
        raise Refused


def distinct(column: Any, convert: Callable[[str], object]) -> list[Any]:
    """``convert`` of each cell, called once per distinct value."""
    table, codes = encoded(column, convert)
    return list(map(table.__getitem__, codes.tolist()))


def encoded(column: Any, convert: Callable[[str], object]) -> tuple[list[Any], np.ndarray]:
    """``(convert of each distinct cell, code of each row (n,) int64)``."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    table = [convert(v) for v in encoded.dictionary.to_pylist()]
    return table, integers(encoded.indices)


def timestamps(column: Any, unit: str, name: str) -> list[int]:
    """Epoch milliseconds: ISO 8601 cells through pyarrow's parser (UTC unless an offset
    is given; floored to the millisecond), anything else cell by distinct cell. Each
    distinct cell is parsed once (the slots of one round share their time)."""
    values: list[int] = timestamp_array(column, unit, name).tolist()
    return values


def timestamp_array(column: Any, unit: str, name: str) -> np.ndarray:
    """:func:`timestamps` as an ``(n,) int64`` array (a time beyond it: :class:`Refused`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    cells, codes = encoded.dictionary, integers(encoded.indices)
    if len(cells) and not pc.any(pc.match_substring_regex(cells, _NUMBER)).as_py():
        for kind in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
            try:
                micros = integers(pc.cast(cells, kind).cast(pa.int64()))
            except pa.ArrowException:
                continue
            ms = np.floor_divide(micros, 1000)
            if ms.min() < 0:
                raise Refused
            return ms[codes]
    table = [_timestamp(cell, unit, name) for cell in cells.to_pylist()]
    try:
        return np.array(table, np.int64)[codes]
    except OverflowError:
        raise Refused from None


def _timestamp(cell: str, unit: str, name: str) -> int:
    if not cell.strip():
        raise Refused
    value = parse_ts(cell.strip(), unit, name)
    if value < 0:
        raise Refused
    return value


def contexts(keys: Sequence[str], columns: Sequence[Any], n: int) -> list[dict[str, Any]]:
    """Each row's context (feature -> ``context_value`` of its cell, an empty cell left
    out): one dict per distinct combination of cells, shared by its rows."""
    if not keys:
        return [{} for _ in range(n)]
    combos, combo_of_row = context_table(keys, columns, n)
    # Rows with the same features share one dict, as equal strings may: events are
    # read-only (frozen), and a copy per row cost a twentieth of the reader's time.
    return list(map(combos.__getitem__, combo_of_row.tolist()))


def context_table(
    keys: Sequence[str], columns: Sequence[Any], n: int
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``(contexts, code of each row (n,) int64)``: each distinct combination of the
    rows' cells once, as :func:`contexts` gives them."""
    if not keys:
        return [{}], np.zeros(n, np.int64)
    tables, cells = zip(*(encoded(c, feature_value) for c in columns), strict=True)
    return combinations(keys, tables, cells, n)


def combinations(
    keys: Sequence[str], tables: Sequence[list[Any]], cells: Sequence[np.ndarray], n: int
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``(contexts, code of each row (n,) int64)`` of features ``keys``: feature ``k``
    of row ``r`` is ``tables[k][cells[k][r]]`` (:data:`OMIT`: left out). One dict per
    distinct combination, in order of first appearance."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sizes = [max(len(t), 1) for t in tables]
    codes = np.zeros(n, np.int64)
    if float(np.prod(sizes, dtype=np.float64)) >= _RADIX_LIMIT:
        for size, cell in zip(sizes, cells, strict=True):
            codes = np.unique(codes * size + cell, return_inverse=True)[1].astype(np.int64)
    else:
        for size, cell in zip(sizes, cells, strict=True):
            codes = codes * size + cell
    codes = np.ascontiguousarray(codes, np.int64)  # pa.array(codes) would import pandas
    combo = pc.dictionary_encode(pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(codes)]))
    combo_of_row = integers(combo.indices)
    first = np.empty(len(combo.dictionary), np.int64)
    first[combo_of_row[::-1]] = np.arange(n - 1, -1, -1)  # the last write is the first row
    # each feature's value in each combination's first row, then one dict per combination
    values = [
        list(map(table.__getitem__, cell[first].tolist()))
        for table, cell in zip(tables, cells, strict=True)
    ]
    rows = zip(*values, strict=True)
    if any(OMIT in column for column in values):
        combos = [{k: v for k, v in zip(keys, row, strict=True) if v is not OMIT} for row in rows]
    else:
        combos = [dict(zip(keys, row, strict=True)) for row in rows]  # 3 times faster
    return combos, combo_of_row


def feature_value(cell: str) -> object:
    """A context feature's value of one cell (:data:`OMIT` when empty)."""
    return context_value(cell) if cell.strip() else OMIT
