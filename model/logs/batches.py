"""An impression-level export's columns, a batch of rows at a time, as field values.

pyarrow's CSV reader tokenizes the file and hands over only the columns the mapping
uses, as text, in batches. :class:`BatchColumns` converts each column once per batch,
with the very cell functions of the row reader (``model.logs.cells``) applied to its
*distinct* values (a slot, a click, a user feature repeat), or by pyarrow casts whose
results are the same (ISO timestamps, numbers). Two readers build on it: the events of
``read_csv`` (``model.logs.columnar``) and the arrays of ``nudge evaluate``
(``model.logs.rounds``).

Anything that would need a row's own handling (an empty cell without a default, a cell
that does not parse, a wrong number of cells, a value the contract refuses, ...) stops
the column-wise reading with :class:`Fallback` at the batch that holds it (a cell
function raises ``RowError`` or ``Refused``; the reader turns that into
:class:`Fallback`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from model.logs.cells import parse_cell
from model.logs.columns import Refused, distinct, encoded, nonempty_text, timestamps
from model.logs.common import FLOAT_FIELDS, TEXT_FIELDS, FieldInfo
from model.logs.impressions import SYNTHESIZED, RowExpansion
from model.logs.mapping import ColumnMapping

__all__ = ["BatchColumns", "Fallback", "Missing", "column_batches", "wanted_columns"]

_BLOCK = 1 << 22  # 4 MiB: parsed a little faster than 1 or 8 MiB (caches)

Cells = Sequence[tuple[FieldInfo, str, int | None]]
Missing = Callable[[FieldInfo, str], object]


class Fallback(Exception):
    """The batch starting at row ``first`` needs the row reader."""

    def __init__(self, first: int) -> None:
        super().__init__(first)
        self.first = first


def wanted_columns(
    cells: Cells, rows: RowExpansion, context: Sequence[tuple[str, int]]
) -> list[int]:
    """The indexes of the columns the fields, context, position and outcome read."""
    wanted = {i for _, _, i in cells if i is not None} | {j for _, j in context}
    wanted.add(rows.outcome_index)
    if rows.position_index is not None:
        wanted.add(rows.position_index)
    return sorted(wanted)


def column_batches(
    path: str | Path, mapping: ColumnMapping, width: int, rows: RowExpansion, wanted: list[int]
) -> Iterator[BatchColumns]:
    """The columns ``wanted`` of each batch of rows (``width`` columns in all), as text;
    a batch pyarrow cannot read raises :class:`Fallback`."""
    import pyarrow as pa

    done = 0
    try:
        reader = _open(path, mapping.delimiter, width, wanted)
    except pa.ArrowException:
        raise Fallback(1) from None
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowException:
            raise Fallback(done + 1) from None
        columns = {int(n[1:]): batch.column(n) for n in batch.schema.names}
        yield BatchColumns(columns, batch.num_rows, done + 1, mapping, rows)
        done += batch.num_rows


def _open(path: str | Path, delimiter: str, width: int, wanted: list[int]) -> Any:
    """pyarrow's streaming reader of the columns ``wanted``, as text (header skipped)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = [f"c{i}" for i in range(width)]
    include = [names[i] for i in wanted]
    return pcsv.open_csv(
        str(path),
        read_options=pcsv.ReadOptions(
            skip_rows=1, column_names=names, block_size=_BLOCK, use_threads=False
        ),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            include_columns=include,
            column_types=dict.fromkeys(include, pa.string()),
            strings_can_be_null=False,
        ),
    )


class BatchColumns:
    """The columns of one batch of ``n`` rows, the first numbered ``first``, keyed by
    column index; the field values they give."""

    def __init__(
        self,
        columns: dict[int, Any],
        n: int,
        first: int,
        mapping: ColumnMapping,
        rows: RowExpansion,
    ) -> None:
        self.columns, self.n, self.first = columns, n, first
        self.mapping, self.rows = mapping, rows
        self.texts: dict[int, list[str]] = {}

    def ids(self) -> list[str]:
        """Each row's id (the id column, else ``row-N``)."""
        if self.rows.id_index is None:
            return [f"row-{k}" for k in range(self.first, self.first + self.n)]
        return self.text(self.rows.id_index, stripped=True)

    def text(self, index: int, *, stripped: bool = False, repeated: bool = False) -> list[str]:
        if index not in self.texts:
            column = self.columns[index]
            self.texts[index] = nonempty_text(column, stripped=stripped, repeated=repeated)
        return self.texts[index]

    def field(
        self, f: FieldInfo, column: str, i: int | None, rid: list[str], missing: Missing
    ) -> object:
        """A list of the field's values, or one value for every row."""
        if i is None:
            return self.absent(f, column, rid, missing)
        if f.name == "ts":
            return timestamps(self.columns[i], self.mapping.ts_unit, column)
        if f.name in TEXT_FIELDS:
            return self.text(i, repeated=i != self.rows.id_index)
        unit = self.mapping.ts_unit
        return distinct(self.columns[i], lambda cell: typed(f, column, cell, unit))

    def absent(self, f: FieldInfo, column: str, rid: list[str], missing: Missing) -> object:
        """The value of a field without a column (one for every row, or the row ids)."""
        if f.name not in self.mapping.defaults and f.name in SYNTHESIZED:
            if f.name in ("event_id", "decision_id", "user_id"):
                return rid
            if f.name == "request_id":
                return [f"{r}/request" for r in rid]
            return _SYNTH[f.name]
        value = missing(f, column)  # a default (None: the field's own), or a RowError
        if isinstance(value, int) and f.name in FLOAT_FIELDS:
            return float(value)
        return value

    def outcome_table(self) -> tuple[list[float], Any]:
        """``(value of each distinct outcome cell, code of each row)``: empty is 0."""
        column = self.rows.outcome_column
        return encoded(
            self.columns[self.rows.outcome_index],
            lambda cell: parse_cell("value", column, cell, "ms") if cell.strip() else 0.0,
        )

    def context_columns(self, context: Sequence[tuple[str, int]]) -> tuple[list[str], list[Any]]:
        """The keys of a request's context and the columns of their cells (``position``
        last, when mapped)."""
        keys = [feature for feature, _ in context]
        columns = [self.columns[j] for _, j in context]
        if self.rows.position_index is not None:
            keys.append("position")
            columns.append(self.columns[self.rows.position_index])
        return keys, columns


_SYNTH: dict[str, object] = {
    "product_id": None, "strategy_id": None, "policy": "", "model_version": "",
    "score": 0.0, "explored": False,
}  # fmt: skip


def typed(f: FieldInfo, column: str, cell: str, unit: str) -> object:
    """A non-text field's value of one cell; an empty cell is :class:`Refused`."""
    if not cell.strip():
        raise Refused  # a default or the field's own rule: the row reader decides
    return parse_cell(f.name, column, cell, unit)
