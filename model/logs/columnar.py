"""Impression-level exports read column by column (the fast path of ``read_csv``).

Each batch's columns are converted once (``model.logs.batches``), and the events of a
batch are built in one pass over those values. Anything that would need a row's own
handling stops the fast path with :class:`Fallback` at the batch that holds it;
``read_csv`` then reads on with the row reader from that batch's first row, which yields
the same events and raises the one-line error naming the file, the row and the reason.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from model.events import SCHEMA_VERSION, Conversion, Decision, DecisionRequest, Impression
from model.logs.batches import (
    BatchColumns,
    Cells,
    Fallback,
    Missing,
    column_batches,
    wanted_columns,
)
from model.logs.cells import RowError
from model.logs.columns import Refused, contexts
from model.logs.impressions import RowExpansion
from model.logs.mapping import ColumnMapping

__all__ = ["Fallback", "read_batches"]

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


def read_batches(
    path: str | Path,
    mapping: ColumnMapping,
    width: int,
    cells: Cells,
    rows: RowExpansion,
    context: Sequence[tuple[str, int]],
    missing: Missing,
) -> Iterator[list[Any]]:
    """Lists of events, one per batch of rows. ``cells`` are the decision's fields with
    their column index (None: absent), ``missing(field, column)`` the value of an
    absent column (``CsvPlan.absent``); raises :class:`Fallback`."""
    wanted = wanted_columns(cells, rows, context)
    for batch in column_batches(path, mapping, width, rows, wanted):
        collecting = gc.isenabled()
        gc.disable()  # the batch's events make no cycles: no collection pass over them
        try:
            events = _events(batch, cells, context, missing)
        except (RowError, Refused):
            raise Fallback(batch.first) from None
        finally:
            if collecting:
                gc.enable()
        yield events


def _events(
    batch: BatchColumns,
    cells: Cells,
    context: Sequence[tuple[str, int]],
    missing: Missing,
) -> list[Any]:
    n, rid = batch.n, batch.ids()
    fields = {f.name: batch.field(f, column, i, rid, missing) for f, column, i in cells}
    if not batch.rows.explored_mapped:
        propensity = _listed(fields["propensity"], n)
        fields["explored"] = list(map((1.0).__gt__, propensity))  # p < 1, looped in C
    decisions = _decisions(fields, n)
    keys, columns = batch.context_columns(context)
    envelope = [_listed(fields[name], n) for name in ("ts", "user_id", "decision_id")]
    table, codes = batch.outcome_table()
    outcomes = list(map(table.__getitem__, codes.tolist()))
    return _expand(batch.rows, decisions, envelope, contexts(keys, columns, n), outcomes)


def _expand(
    rows: RowExpansion,
    decisions: list[Decision],
    envelope: list[list[Any]],
    contexts: list[Any],
    outcomes: list[float],
) -> list[Any]:
    """Request, decision, impression and (when the outcome is not 0) conversion of each
    row, in row order."""
    kind, version = rows.kind, SCHEMA_VERSION
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
    out: list[Any] = [None] * (4 * len(decisions))
    out[0::4], out[1::4], out[2::4] = requests, decisions, shown
    for r in [r for r, v in enumerate(outcomes) if v]:  # a conversion after its row
        out[4 * r + 3] = Conversion(schema_version=version, event_id=f"{ids[r]}/{kind}",
                                    ts=ts[r], user_id=users[r], kind=kind,
                                    value=outcomes[r], decision_id=ids[r])  # fmt: skip
    return list(filter(None, out))


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


def _listed(value: object, n: int) -> list[Any]:
    return value if isinstance(value, list) else [value] * n


def _iterate(value: object, n: int) -> Any:
    return value if isinstance(value, list) else itertools.repeat(value, n)
