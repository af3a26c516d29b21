"""Impression-level exports read column by column (the fast path of ``read_csv``).

pyarrow's CSV reader tokenizes the file and hands over only the columns the mapping
uses, as text, in batches. Each column is converted once per batch, with the very cell
functions of the row reader (``model.logs.cells``) applied to its *distinct* values (a
slot, a click, a user feature repeat), or by pyarrow casts whose results are the same
(ISO timestamps, numbers), and the events of a batch are built in one pass over those
columns.

Anything that would need a row's own handling (an empty cell without a default, a cell
that does not parse, a wrong number of cells, a value the contract refuses, ...) stops
the fast path with :class:`Fallback` at the batch that holds it; ``read_csv`` then reads
on with the row reader from that batch's first row, which yields the same events and
raises the one-line error naming the file, the row and the reason.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from model.events import SCHEMA_VERSION, Conversion, Decision, DecisionRequest, Impression
from model.logs.cells import RowError, parse_cell
from model.logs.columns import Refused, contexts, distinct, nonempty_text, timestamps
from model.logs.common import FLOAT_FIELDS, TEXT_FIELDS, FieldInfo
from model.logs.impressions import SYNTHESIZED, RowExpansion
from model.logs.mapping import ColumnMapping

__all__ = ["Fallback", "read_batches"]

_BLOCK = 1 << 22  # 4 MiB: parsed a little faster than 1 or 8 MiB (caches)
_ROW_FIELDS = (
    "event_id", "ts", "user_id", "decision_id", "request_id", "arm_id", "propensity", "explored",
)  # fmt: skip
_CONSTANT_FIELDS = (
    "schema_version", "product_id", "strategy_id", "policy", "model_version", "score", "reason",
)  # fmt: skip
_DECISION_FIELDS = (
    "schema_version", "event_id", "ts", "user_id", "decision_id", "request_id", "arm_id",
    "product_id", "strategy_id", "propensity", "explored", "policy", "model_version",
    "score", "reason",
)  # fmt: skip


class Fallback(Exception):
    """The batch starting at row ``first`` needs the row reader."""

    def __init__(self, first: int) -> None:
        super().__init__(first)
        self.first = first


def read_batches(
    path: str | Path,
    mapping: ColumnMapping,
    width: int,
    cells: Sequence[tuple[FieldInfo, str, int | None]],
    rows: RowExpansion,
    context: Sequence[tuple[str, int]],
    missing: Callable[[FieldInfo, str], object],
) -> Iterator[list[Any]]:
    """Lists of events, one per batch of rows. ``cells`` are the decision's fields with
    their column index (None: absent), ``missing(field, column)`` the value of an
    absent column (``_CsvPlan._missing``); raises :class:`Fallback`."""
    import pyarrow as pa

    wanted = {i for _, _, i in cells if i is not None} | {j for _, j in context}
    wanted.add(rows.outcome_index)
    if rows.position_index is not None:
        wanted.add(rows.position_index)
    done = 0
    try:
        reader = _open(path, mapping.delimiter, width, sorted(wanted))
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
        collecting = gc.isenabled()
        gc.disable()  # the batch's events make no cycles: no collection pass over them
        try:
            events = _Batch(columns, batch.num_rows, done + 1, mapping, rows).events(
                cells, context, missing
            )
        except (RowError, Refused):
            raise Fallback(done + 1) from None
        finally:
            if collecting:
                gc.enable()
        yield events
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


class _Batch:
    """The columns of one batch of rows and the events they make."""

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

    def events(
        self,
        cells: Sequence[tuple[FieldInfo, str, int | None]],
        context: Sequence[tuple[str, int]],
        missing: Callable[[FieldInfo, str], object],
    ) -> list[Any]:
        rid = self._ids()
        fields = {f.name: self._field(f, column, i, rid, missing) for f, column, i in cells}
        if not self.rows.explored_mapped:
            propensity = _listed(fields["propensity"], self.n)
            fields["explored"] = list(map((1.0).__gt__, propensity))  # p < 1, looped in C
        decisions = _decisions(fields, self.n)
        keys = [feature for feature, _ in context]
        columns = [self.columns[j] for _, j in context]
        if self.rows.position_index is not None:
            keys.append("position")
            columns.append(self.columns[self.rows.position_index])
        envelope = [_listed(fields[name], self.n) for name in ("ts", "user_id", "decision_id")]
        return self._expand(decisions, envelope, contexts(keys, columns, self.n), self._outcomes())

    def _expand(
        self,
        decisions: list[Decision],
        envelope: list[list[Any]],
        contexts: list[Any],
        outcomes: list[float],
    ) -> list[Any]:
        """Request, decision, impression and (when the outcome is not 0) conversion of
        each row, in row order."""
        kind, version = self.rows.kind, SCHEMA_VERSION
        ts, users, ids = envelope
        requests = [
            DecisionRequest(schema_version=version, event_id=d.request_id, ts=t, user_id=u,
                            context=c)
            for d, t, u, c in zip(decisions, ts, users, contexts, strict=True)
        ]  # fmt: skip
        shown = [
            Impression(schema_version=version, event_id=f"{i}/impression", ts=t, user_id=u,
                       decision_id=i, arm_id=d.arm_id or "")
            for d, t, u, i in zip(decisions, ts, users, ids, strict=True)
        ]  # fmt: skip
        out: list[Any] = [None] * (4 * self.n)
        out[0::4], out[1::4], out[2::4] = requests, decisions, shown
        for r in [r for r, v in enumerate(outcomes) if v]:  # a conversion after its row
            out[4 * r + 3] = Conversion(schema_version=version, event_id=f"{ids[r]}/{kind}",
                                        ts=ts[r], user_id=users[r], kind=kind,
                                        value=outcomes[r], decision_id=ids[r])  # fmt: skip
        return list(filter(None, out))

    def _ids(self) -> list[str]:
        """Each row's id (the id column, else ``row-N``)."""
        if self.rows.id_index is None:
            return [f"row-{k}" for k in range(self.first, self.first + self.n)]
        return self._text(self.rows.id_index, stripped=True)

    def _text(self, index: int, *, stripped: bool = False, repeated: bool = False) -> list[str]:
        if index not in self.texts:
            column = self.columns[index]
            self.texts[index] = nonempty_text(column, stripped=stripped, repeated=repeated)
        return self.texts[index]

    def _field(
        self,
        f: FieldInfo,
        column: str,
        i: int | None,
        rid: list[str],
        missing: Callable[[FieldInfo, str], object],
    ) -> object:
        """A list of the field's values, or one value for every row."""
        if i is None:
            return self._absent(f, column, rid, missing)
        if f.name == "ts":
            return timestamps(self.columns[i], self.mapping.ts_unit, column)
        if f.name in TEXT_FIELDS:
            return self._text(i, repeated=i != self.rows.id_index)
        unit = self.mapping.ts_unit
        return distinct(self.columns[i], lambda cell: _typed(f, column, cell, unit))

    def _absent(
        self, f: FieldInfo, column: str, rid: list[str], missing: Callable[[FieldInfo, str], object]
    ) -> object:
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

    def _outcomes(self) -> list[float]:
        column = self.rows.outcome_column
        return distinct(
            self.columns[self.rows.outcome_index],
            lambda cell: parse_cell("value", column, cell, "ms") if cell.strip() else 0.0,
        )


def _decisions(fields: dict[str, object], n: int) -> list[Decision]:
    """One decision per row; the fields that vary from row to row are usually those of
    ``_ROW_FIELDS``, and the others are then copied from a first decision (faster)."""
    if n == 0 or any(isinstance(fields[name], list) for name in _CONSTANT_FIELDS):
        values = [_iterate(fields[name], n) for name in _DECISION_FIELDS]
        return [
            Decision(schema_version=a, event_id=b, ts=c, user_id=d, decision_id=e,
                     request_id=f, arm_id=g, product_id=h, strategy_id=i, propensity=j,
                     explored=k, policy=m, model_version=o, score=p, reason=q)
            for a, b, c, d, e, f, g, h, i, j, k, m, o, p, q in zip(*values, strict=True)
        ]  # fmt: skip
    first = {name: _listed(fields[name], n)[0] for name in _DECISION_FIELDS}
    template, copy = Decision(**first), msgspec.structs.replace
    rows = [_iterate(fields[name], n) for name in _ROW_FIELDS]
    return [
        copy(template, event_id=a, ts=b, user_id=c, decision_id=d, request_id=e, arm_id=f,
             propensity=g, explored=h)
        for a, b, c, d, e, f, g, h in zip(*rows, strict=True)
    ]  # fmt: skip


_SYNTH: dict[str, object] = {
    "product_id": None, "strategy_id": None, "policy": "", "model_version": "",
    "score": 0.0, "explored": False,
}  # fmt: skip


def _typed(f: FieldInfo, column: str, cell: str, unit: str) -> object:
    if not cell.strip():
        raise Refused  # a default or the field's own rule: the row reader decides
    return parse_cell(f.name, column, cell, unit)


def _listed(value: object, n: int) -> list[Any]:
    return value if isinstance(value, list) else [value] * n


def _iterate(value: object, n: int) -> Any:
    return value if isinstance(value, list) else itertools.repeat(value, n)
