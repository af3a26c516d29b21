"""Impression-level exports: one row = one item shown in one slot, with its outcome.

Many systems (the Open Bandit Dataset among them) export a row per item shown: when,
which item, in which slot (``position``), the logging policy's probability of that item
in that slot, and what happened (``click`` 0/1), plus user features. A column mapping
with ``"outcome"`` reads each such row as four events of our log:

- a ``decision-request`` ``<id>/request`` whose context is the mapped features plus
  ``position`` (when mapped);
- the ``decision`` ``<id>`` (arm, propensity; ``explored`` is ``propensity < 1`` unless
  mapped; ``policy``, ``model_version`` empty and ``score`` 0 unless mapped or defaulted);
- its ``impression`` ``<id>/impression`` (every exported row was shown);
- a ``conversion`` ``<id>/<kind>`` referring to the decision, when the outcome cell is a
  number other than 0 (its value is the cell).

``<id>`` is the row's ``event_id`` (or ``decision_id``) column when mapped (the unnamed
index column of a pandas export is named ``""``), else ``row-<N>``, so repeated reads and
resumed replays give the same ids. Without a ``user_id`` column or default, every row is
its own user (such exports name none). All four share the row's time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from model.events import SCHEMA_VERSION, Conversion, Decision, DecisionRequest, Impression
from model.logs.cells import RowError, context_value, parse_cell
from model.logs.mapping import ColumnMapping

__all__ = ["SYNTHESIZED", "RowExpansion"]

SYNTHESIZED = frozenset(
    {
        "event_id",
        "decision_id",
        "request_id",
        "user_id",
        "product_id",
        "strategy_id",
        "policy",
        "model_version",
        "score",
        "explored",
    }
)


class RowExpansion:
    """The synthesized fields and extra events of an impression-level mapping's rows."""

    def __init__(self, mapping: ColumnMapping, index: Mapping[str, int]) -> None:
        assert mapping.outcome is not None
        self.kind = mapping.outcome.kind
        self.outcome_column = mapping.outcome.column
        self.outcome_index = index[mapping.outcome.column]
        self.position_index = index[mapping.position] if mapping.position is not None else None
        self.id_index = next(
            (
                index[mapping.column(name)]
                for name in ("event_id", "decision_id")
                if mapping.column(name) in index
            ),
            None,
        )
        self.explored_mapped = mapping.column("explored") in index or "explored" in (
            mapping.defaults
        )
        self.json_context = index.get(mapping.context) if isinstance(mapping.context, str) else None

    def synthesized(self, row: list[str], number: int) -> dict[str, object]:
        """Values of the decision's fields that an export does not hold."""
        rid = row[self.id_index].strip() if self.id_index is not None else ""
        rid = rid or f"row-{number}"
        return {
            "event_id": rid,
            "decision_id": rid,
            "request_id": f"{rid}/request",
            "user_id": rid,
            "product_id": None,
            "strategy_id": None,
            "policy": "",
            "model_version": "",
            "score": 0.0,
            "explored": False,
        }

    def expand(
        self,
        row: list[str],
        decision: Decision,
        context_cells: list[tuple[str, int]] | None,
    ) -> list[Any]:
        if not self.explored_mapped:
            decision = _replace(decision, explored=decision.propensity < 1.0)
        envelope: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "ts": decision.ts,
            "user_id": decision.user_id,
        }
        rid = decision.decision_id
        request = DecisionRequest(
            event_id=decision.request_id, context=self._context(row, context_cells), **envelope
        )
        assert decision.arm_id is not None
        shown = Impression(
            event_id=f"{rid}/impression", decision_id=rid, arm_id=decision.arm_id, **envelope
        )
        events: list[Any] = [request, decision, shown]
        value = self._outcome(row)
        if value:
            events.append(
                Conversion(
                    event_id=f"{rid}/{self.kind}",
                    kind=self.kind,
                    value=value,
                    decision_id=rid,
                    **envelope,
                )
            )
        return events

    def _context(self, row: list[str], cells: list[tuple[str, int]] | None) -> dict[str, Any]:
        context: dict[str, Any] = {}
        if self.json_context is not None and row[self.json_context].strip():
            try:
                context = dict(json.loads(row[self.json_context]))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise RowError(f"bad JSON context: {exc}") from None
        for feature, j in cells or ():
            if row[j].strip():
                context[feature] = context_value(row[j])
        if self.position_index is not None and row[self.position_index].strip():
            context["position"] = context_value(row[self.position_index])
        return context

    def _outcome(self, row: list[str]) -> float:
        cell = row[self.outcome_index]
        if not cell.strip():
            return 0.0
        value = parse_cell("value", self.outcome_column, cell, "ms")
        assert isinstance(value, float)
        return value


def _replace(decision: Decision, **changes: Any) -> Decision:
    return msgspec.structs.replace(decision, **changes)
