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

__all__ = ["OMIT", "Refused", "contexts", "distinct", "nonempty_text", "timestamps"]

OMIT = object()  # an empty context cell: the feature is left out
MAX_ID = 256  # NonEmpty's max_length in the contract
_NUMBER = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_RADIX_LIMIT = 1 << 62


class Refused(Exception):
    """A cell the column-wise reader leaves to the row reader."""


def nonempty_text(column: Any, *, stripped: bool = False, repeated: bool = False) -> list[str]:
    """The cells as they are: none empty, none longer than an id may be, and with
    ``stripped`` none with spaces around it. With ``repeated`` (arm ids: few distinct
    values) each distinct cell is checked and made a ``str`` once."""
    import pyarrow.compute as pc

    if len(column) == 0:
        return []
    if not repeated:
        _check_text(column, stripped)
        values: list[str] = column.to_pylist()
        return values
    encoded = pc.dictionary_encode(column)
    _check_text(encoded.dictionary, stripped)
    table = encoded.dictionary.to_pylist()
    return list(map(table.__getitem__, encoded.indices.to_numpy().tolist()))


def _check_text(cells: Any, stripped: bool) -> None:
    import pyarrow.compute as pc

    lengths = pc.utf8_length(cells)
    if pc.max(lengths).as_py() > MAX_ID or pc.min(lengths).as_py() == 0:
        raise Refused
    if stripped and not pc.all(pc.equal(cells, pc.utf8_trim_whitespace(cells))).as_py():
        raise Refused


def distinct(column: Any, convert: Callable[[str], object]) -> list[Any]:
    """``convert`` of each cell, called once per distinct value."""
    table, codes = _encoded(column, convert)
    return list(map(table.__getitem__, codes.tolist()))


def _encoded(column: Any, convert: Callable[[str], object]) -> tuple[list[Any], np.ndarray]:
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    table = [convert(v) for v in encoded.dictionary.to_pylist()]
    return table, encoded.indices.to_numpy().astype(np.int64)


def timestamps(column: Any, unit: str, name: str) -> list[int]:
    """Epoch milliseconds: ISO 8601 cells through pyarrow's parser (UTC unless an offset
    is given; floored to the millisecond), anything else cell by distinct cell. Each
    distinct cell is parsed once (the slots of one round share their time)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    cells, codes = encoded.dictionary, encoded.indices.to_numpy()
    if len(cells) and not pc.any(pc.match_substring_regex(cells, _NUMBER)).as_py():
        for kind in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
            try:
                micros = pc.cast(cells, kind).cast(pa.int64()).to_numpy()
            except pa.ArrowException:
                continue
            ms = np.floor_divide(micros, 1000)
            if ms.min() < 0:
                raise Refused
            values: list[int] = ms[codes].tolist()
            return values
    table = [_timestamp(cell, unit, name) for cell in cells.to_pylist()]
    return list(map(table.__getitem__, codes.tolist()))


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
    import pyarrow as pa
    import pyarrow.compute as pc

    if not keys:
        return [{} for _ in range(n)]
    tables, cells = zip(*(_encoded(c, _feature) for c in columns), strict=True)
    sizes = [max(len(t), 1) for t in tables]
    if float(np.prod(sizes, dtype=np.float64)) >= _RADIX_LIMIT:
        codes = np.zeros(n, np.int64)
        for size, cell in zip(sizes, cells, strict=True):
            codes = np.unique(codes * size + cell, return_inverse=True)[1]
    else:
        codes = np.zeros(n, np.int64)
        for size, cell in zip(sizes, cells, strict=True):
            codes = codes * size + cell
    encoded = pc.dictionary_encode(pa.array(codes))
    combo_of_row = encoded.indices.to_numpy()
    first = np.empty(len(encoded.dictionary), np.int64)
    first[combo_of_row[::-1]] = np.arange(n - 1, -1, -1)  # the last write is the first row
    combos = [
        {
            k: v
            for k, table, cell in zip(keys, tables, cells, strict=True)
            if (v := table[cell[r]]) is not OMIT
        }
        for r in first.tolist()
    ]
    # Rows with the same features share one dict, as equal strings may: events are
    # read-only (frozen), and a copy per row cost a twentieth of the reader's time.
    return list(map(combos.__getitem__, combo_of_row.tolist()))


def _feature(cell: str) -> object:
    return context_value(cell) if cell.strip() else OMIT
