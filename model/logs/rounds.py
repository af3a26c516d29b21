"""An impression-level export read straight into arrays of rounds, without events.

``nudge evaluate`` needs, per row of such an export, what ``feedback_from_events`` would
take from its four events: the decision's id, time, arm, propensity and policy, the
request's context, and the outcome. :func:`read_rounds` reads them from the same
columns with the same cell functions as the column-wise event reader
(``model.logs.batches``), as arrays: no request, decision, impression or conversion is
built. It applies where those events would credit each row's outcome to that row's
decision and nothing else: every row its own user (no user column or default), the
decision and request ids the row's (no column of their own), and no id twice. Anything
else, and any batch the column-wise reader would leave to the row reader, returns None:
the caller then reads the events, which give the same feedback or the same error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.logs.batches import BatchColumns, Fallback, column_batches, typed, wanted_columns
from model.logs.cells import RowError
from model.logs.columns import Refused, check_text, encoded, text_table, timestamp_array
from model.logs.csvlog import columnar_plan
from model.logs.mapping import ColumnMapping
from model.logs.plan import CsvPlan
from model.logs.round_arrays import ContextCodes, all_distinct, unicode_array

__all__ = ["ExportRounds", "read_rounds"]

_READ = ("event_id", "ts", "decision_id", "arm_id", "propensity", "policy")  # by _Rounds.add
_OWN_IDS = ("user_id", "request_id")  # synthesized from the row's id, else not our case


@dataclass(frozen=True)
class ExportRounds:
    """The rows of an export in file order, ``n`` of them: ``decision_ids`` (n,) ``<U``
    text (each row's own user too) with ``id_lengths`` (n,) in code points; ``ts_ms``
    (n,) int64; ``arm`` (n,) index into ``arm_ids`` (the distinct arms); ``pscore`` (n,)
    float64; ``outcome`` (n,) float64, the outcome cell (0 when empty), a conversion of
    ``kind`` when not 0; ``policy`` (n,) ``<U`` text when one for all rows, else object
    (str); ``context`` (n,) index into ``contexts`` (the distinct request contexts,
    ``position`` included; rows with the same features share one dict: read-only)."""

    decision_ids: np.ndarray
    id_lengths: np.ndarray
    ts_ms: np.ndarray
    arm_ids: tuple[str, ...]
    arm: np.ndarray
    pscore: np.ndarray
    outcome: np.ndarray
    policy: np.ndarray
    contexts: list[dict[str, Any]]
    context: np.ndarray
    kind: str

    def __len__(self) -> int:
        return len(self.ts_ms)


def read_rounds(path: str | Path, mapping: ColumnMapping) -> ExportRounds | None:
    """The rounds of impression-level export ``path``, or None where the events are
    needed (see the module docstring). Raises what reading the header raises."""
    import pyarrow as pa

    plan = columnar_plan(path, mapping)
    if plan is None or not _own_rounds(plan):
        return None
    assert plan.rows is not None and mapping.outcome is not None
    context = plan.context_cells or []
    cells = plan.cells["decision"]
    keys = [feature for feature, _ in context]
    if plan.rows.position_index is not None:
        keys.append("position")  # last, as BatchColumns.context_columns
    rounds = _Rounds(mapping.outcome.kind, ContextCodes(keys))
    batches = column_batches(
        path, mapping, plan.width, plan.rows, wanted_columns(cells, plan.rows, context)
    )
    try:
        for batch in batches:
            rounds.add(batch, plan, context)
        return rounds.done()
    except (Fallback, RowError, Refused, pa.ArrowException):
        return None


def _own_rounds(plan: CsvPlan) -> bool:
    """Each row its own user, its decision and request ids its own id's."""
    assert plan.rows is not None
    index = {f.name: i for f, _, i in plan.cells["decision"]}
    defaults = plan.mapping.defaults
    if any(name in defaults or index[name] is not None for name in _OWN_IDS):
        return False
    own_decision = index["decision_id"] in (None, plan.rows.id_index)
    return own_decision and "decision_id" not in defaults


class _Rounds:
    """The arrays of the batches read so far."""

    def __init__(self, kind: str, contexts: ContextCodes) -> None:
        self.kind, self.contexts = kind, contexts
        self.parts: dict[str, list[np.ndarray]] = {
            name: [] for name in ("ids", "ts", "arm", "pscore", "outcome", "policy")
        }
        self.arm_ids: dict[str, int] = {}
        self.policies: set[object] = set()  # the policy of all rows of a batch (else a list)
        self.id_columns: list[Any] = []  # pyarrow: the id column, when there is one
        self.rows = 0

    def add(self, batch: BatchColumns, plan: CsvPlan, context: list[tuple[str, int]]) -> None:
        """Read one batch; raises ``RowError``/``Refused`` as the event reader would."""
        for f, column, i in plan.cells["decision"]:
            if f.name not in _READ:  # read as the event reader does, for its checks
                batch.field(f, column, i, [], plan.absent)
        if batch.rows.id_index is None:
            numbers = np.arange(batch.first, batch.first + batch.n).astype(str)
            self.parts["ids"].append(np.char.add("row-", numbers))  # BatchColumns.ids
        else:
            column = batch.columns[batch.rows.id_index]
            check_text(column, stripped=True)  # as BatchColumns.ids
            self.id_columns.append(column)
        for f, column, i in plan.cells["decision"]:
            if f.name in ("ts", "arm_id", "propensity", "policy"):
                self._field(batch, plan, f, column, i)
        table, codes = batch.outcome_table()
        self.parts["outcome"].append(np.array(table, np.float64)[codes])
        self.contexts.add(batch.context_columns(context)[1])
        self.rows += batch.n

    def _field(
        self, batch: BatchColumns, plan: CsvPlan, f: Any, column: str, i: int | None
    ) -> None:
        part, n = self.parts, batch.n
        if i is None:  # a default, or the field's own (policy ""): one value for every row
            if f.name in ("ts", "arm_id"):
                raise Refused  # a default time or arm: left to the events (rare)
            value = batch.absent(f, column, [], plan.absent)
            if f.name == "policy":
                self.policies.add(value)
                part["policy"].append(np.full(n, value, object))
            else:
                part["pscore"].append(np.full(n, value, np.float64))
        elif f.name == "ts":
            part["ts"].append(timestamp_array(batch.columns[i], plan.mapping.ts_unit, column))
        elif f.name in ("arm_id", "policy"):
            table, codes = text_table(batch.columns[i], stripped=i == batch.rows.id_index)
            if f.name == "policy":
                self.policies.add(None)  # not one for all rows: kept as object
                part["policy"].append(np.array(table, object)[codes])
            else:
                where = [self.arm_ids.setdefault(a, len(self.arm_ids)) for a in table]
                part["arm"].append(np.array(where, np.int64)[codes])
        else:
            unit = plan.mapping.ts_unit
            values, codes = encoded(batch.columns[i], lambda cell: typed(f, column, cell, unit))
            part["pscore"].append(np.array(values, np.float64)[codes])

    def done(self) -> ExportRounds | None:
        """The rounds; None when an id repeats or there is no row (the events then say
        what that makes)."""
        if self.rows == 0 or (self.id_columns and not all_distinct(self.id_columns)):
            return None
        if self.id_columns:
            ids, lengths = unicode_array(self.id_columns)
        else:
            ids = np.concatenate(self.parts["ids"])
            lengths = np.char.str_len(ids).astype(np.int64)
        joined = {name: np.concatenate(parts) for name, parts in self.parts.items() if parts}
        policy = joined["policy"]
        if len(self.policies) == 1 and isinstance(only := next(iter(self.policies)), str):
            policy = np.full(self.rows, only)  # what astype(str) makes of it, at once
        contexts, context = self.contexts.done(self.rows)
        return ExportRounds(
            decision_ids=ids,
            id_lengths=lengths,
            ts_ms=joined["ts"],
            arm_ids=tuple(self.arm_ids),
            arm=joined["arm"],
            pscore=joined["pscore"],
            outcome=joined["outcome"],
            policy=policy,
            contexts=contexts,
            context=context,
            kind=self.kind,
        )
