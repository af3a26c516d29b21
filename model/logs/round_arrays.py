"""Arrays of a whole export from its batches' columns (for ``model.logs.rounds``).

Each does at the end of the file, once, what the event reader does per batch or per
row, with the same result: ids as numpy's fixed-width text, the check that no id
repeats, and each row's context as one dict per distinct combination of its cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.logs.columns import combinations, feature_value, integers

__all__ = ["ContextCodes", "all_distinct", "unicode_array"]


def unicode_array(chunks: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(text, lengths)``: the pyarrow string ``chunks`` joined as numpy's ``<U`` array
    (what ``astype(str)`` of their ``str`` gives; ``(n,)``) and each one's length in
    code points ``(n,) int64``. ASCII text is copied from the buffer at once, anything
    else goes through ``str``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pa.concat_arrays(list(chunks)) if len(chunks) != 1 else chunks[0]
    n = len(joined)
    lengths = integers(pc.utf8_length(joined))
    offsets = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset : joined.offset + n + 1]
    data = np.frombuffer(joined.buffers()[2] or b"", np.uint8)[offsets[0] : offsets[-1]]
    if n == 0 or (data >= 0x80).any():
        return np.array(joined.to_pylist(), dtype=object).astype(str), lengths
    width = max(1, int(lengths.max()))
    padded = np.zeros(len(data) + width, np.uint32)  # a cell's bytes, then room for the widest
    padded[: len(data)] = data
    codes = padded[(offsets[:-1, None] - offsets[0]) + np.arange(width)]
    codes[np.arange(width) >= lengths[:, None]] = 0  # numpy's padding after a shorter id
    return codes.view(f"<U{width}").ravel(), lengths


def all_distinct(chunks: Sequence[Any]) -> bool:
    """No value of the pyarrow string ``chunks`` appears twice. A pandas index column
    (increasing integers: distinct numbers are distinct text) is told at once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.chunked_array(list(chunks), pa.string())
    try:
        numbers = np.concatenate([integers(c) for c in pc.cast(column, pa.int64()).chunks])
    except (pa.ArrowInvalid, ValueError):  # not all integers (or none): by hashing
        return bool(len(pc.unique(column)) == len(column))
    if (np.diff(numbers) > 0).all():
        return True
    return bool(len(pc.unique(column)) == len(column))


class ContextCodes:
    """The request contexts of a file's rows: feature ``keys``, each column's distinct
    cells numbered across batches, the dicts built once per combination at the end."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.numbers: list[dict[str, int]] = [{} for _ in self.keys]  # cell -> its number
        self.values: list[list[Any]] = [[] for _ in self.keys]  # number -> feature value
        self.codes: list[list[np.ndarray]] = [[] for _ in self.keys]

    def add(self, columns: Sequence[Any]) -> None:
        """The context columns of one batch, in the order of ``keys``."""
        import pyarrow.compute as pc

        for k, column in enumerate(columns):
            encoded = pc.dictionary_encode(column)
            numbers = [self._number(k, cell) for cell in encoded.dictionary.to_pylist()]
            self.codes[k].append(np.array(numbers, np.int64)[integers(encoded.indices)])

    def _number(self, k: int, cell: str) -> int:
        numbers = self.numbers[k]
        if cell not in numbers:
            numbers[cell] = len(self.values[k])
            self.values[k].append(feature_value(cell))
        return numbers[cell]

    def done(self, n: int) -> tuple[list[dict[str, Any]], np.ndarray]:
        """``(contexts, code of each row (n,) int64)`` of the ``n`` rows added."""
        if not self.keys:
            return [{}], np.zeros(n, np.int64)
        cells = [np.concatenate(codes) for codes in self.codes]
        return combinations(self.keys, self.values, cells, n)
