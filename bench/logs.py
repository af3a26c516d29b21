"""Reading an impression-level CSV export (the Open Bandit Dataset's shape).

:func:`write_bandit_export` writes such an export: an unnamed index column, an ISO
timestamp with microseconds, ``item_id`` (0..79), ``position`` (1..3), ``click`` (0/1),
``propensity_score`` (the logging policy's probability of that item in that slot), four
categorical ``user_feature_*`` columns and one ``user-item_affinity_<item>`` column per
item. Rounds show three distinct items, one per slot, chosen by a uniform-random policy
(``"random"``: every item has probability 1/80 in every slot) or by Bernoulli Thompson
sampling from fixed Beta posteriors (``"bts"``: the slot probabilities are estimated by
Monte Carlo with 20,000 draws, as the dataset's were). Clicks are Bernoulli with a
rate per item, scaled per slot and by the first user feature.

:func:`bench_csv_read` times the export read as ``nudge evaluate`` reads it
(``model.evaluation.export.feedback_from_log`` through :data:`EXPORT_MAPPING`: the
columns straight into the evaluator's ``LoggedFeedback``, no events; ``csv_read``, rows/s)
and, as before, ``model.logs.read_csv`` with every event iterated (``csv_read_events``:
what replay and training read), against ``model.logs.read_jsonl`` of a simulator log
(events/s), in the same run, on one core (``bench.timing.one_core``). Rates are given per
wall second and per CPU second of this process (``*_cpu_time``: on a shared machine,
time spent waiting for the core is left out); the target is 300,000 rows/s.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EXPORT_MAPPING", "bench_csv_read", "export_truth", "write_bandit_export"]

TARGET_ROWS_PER_SECOND = 300_000  # issue 12, on one core
N_ITEMS = 80
N_SLOTS = 3
FEATURES = tuple(f"user_feature_{i}" for i in range(4))
EXPORT_MAPPING: dict[str, Any] = {
    "description": "impression-level export: one row per item shown in a slot",
    "columns": {
        "event_id": "",
        "ts": "timestamp",
        "arm_id": "item_id",
        "propensity": "propensity_score",
    },
    "position": "position",
    "outcome": {"column": "click", "kind": "click"},
    "context": list(FEATURES),
}
_SLOT_FACTOR = np.array([1.0, 0.7, 0.5])
_VOCAB = ("81ce123c", "2d03db5e", "4ae385d7", "c2e4f76b")


def _click_rates(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.02, 0.3, N_ITEMS)


def export_truth(seed: int = 0) -> np.ndarray:
    """True click probability ``(n_items, n_slots)`` for a user of average feature."""
    boost = np.mean([1.0 + 0.5 * (v == _VOCAB[0]) for v in _VOCAB])
    return np.clip(_click_rates(seed)[:, None] * _SLOT_FACTOR[None, :] * boost, 0, 1)


def _bts_slots(rng: np.random.Generator, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    draws = rng.beta(alpha, beta, size=(20_000, N_ITEMS))
    top = np.argsort(-draws, axis=1)[:, :N_SLOTS]
    table = np.zeros((N_ITEMS, N_SLOTS))
    for slot in range(N_SLOTS):
        table[:, slot] = np.bincount(top[:, slot], minlength=N_ITEMS) / len(draws)
    return table


def write_bandit_export(path: str | Path, rows: int, policy: str = "random", seed: int = 0) -> int:
    """Write about ``rows`` rows (whole rounds of three slots); returns the row count."""
    rng = np.random.default_rng(seed + 1)
    rates = _click_rates(seed)
    alpha, beta = 1 + 200 * rates, 1 + 200 * (1 - rates)
    slots = _bts_slots(rng, alpha, beta) if policy == "bts" else None
    start = datetime(2019, 11, 24, tzinfo=UTC)
    header = ["", "timestamp", "item_id", "position", "click", "propensity_score"]
    header += [*FEATURES, *(f"user-item_affinity_{i}" for i in range(N_ITEMS))]
    written = 0
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for round_ in range(max(1, rows // N_SLOTS)):
            if slots is None:
                items = rng.choice(N_ITEMS, N_SLOTS, replace=False)
            else:
                items = np.argsort(-rng.beta(alpha, beta))[:N_SLOTS]
            features = rng.choice(_VOCAB, len(FEATURES))
            boost = 1.0 + 0.5 * (features[0] == _VOCAB[0])
            affinity = np.round(rng.exponential(1.0, N_ITEMS) * (rng.random(N_ITEMS) < 0.1), 3)
            when = start + timedelta(seconds=round_ * 7.3, microseconds=round_ % 997 * 1001)
            for slot, item in enumerate(items.tolist()):
                p = 1 / N_ITEMS if slots is None else max(slots[item, slot], 1 / 20_000)
                click = int(rng.random() < min(1.0, rates[item] * _SLOT_FACTOR[slot] * boost))
                writer.writerow(
                    [written, when.isoformat(sep=" "), item, slot + 1, click, repr(float(p))]
                    + list(features)
                    + affinity.tolist()
                )
                written += 1
    return written


def bench_csv_read(rows: int, repeats: int, workdir: Path) -> dict[str, Any]:
    """Rows/s of reading the export as ``nudge evaluate`` does, and of ``read_csv``'s
    events, vs events/s of ``read_jsonl`` (same run)."""
    from bench.replay import simulator_log
    from bench.timing import median_rate, one_core, rate_entry
    from model.evaluation.export import feedback_from_log
    from model.logs import ColumnMapping, read_csv, read_jsonl
    from model.logs.rounds import read_rounds

    workdir.mkdir(parents=True, exist_ok=True)
    export = workdir / "export.csv"
    write_bandit_export(export, rows, "bts")
    jsonl = workdir / "sim.jsonl"
    jsonl.write_bytes(b"\n".join(simulator_log(max(1, rows // 4), max(1, rows // 40))) + b"\n")
    mapping = ColumnMapping.from_dict(EXPORT_MAPPING)
    counted = rows // N_SLOTS * N_SLOTS

    def read_feedback() -> int:
        return feedback_from_log(export, mapping).n_logged

    def read_rows() -> int:
        for _ in read_csv(export, mapping):
            pass
        return counted

    def read_events() -> int:
        return sum(1 for _ in read_jsonl(jsonl))

    rates: dict[str, float] = {}
    with one_core() as pinning:  # as bench.evaluation: one CPU, BLAS threads 1
        # first reads in the block: when they are the process's first use of pyarrow, its
        # threads start pinned too
        events = sum(1 for _ in read_csv(export, mapping))
        if read_rounds(export, mapping) is None:  # nudge evaluate would read the events
            raise RuntimeError("the export is not read column-wise: the bench would time events")
        for clock in (time.perf_counter, time.process_time):
            for name, run in (
                ("jsonl", read_events),
                ("rows", read_feedback),
                ("events", read_rows),
            ):
                rates[f"{name} {clock.__name__}"] = median_rate(run, repeats, clock)
    wall, cpu = "perf_counter", "process_time"
    per_wall, per_cpu = "rows/s vs events/s", "rows per CPU second vs events per CPU second"
    return {
        "export": {"rows": counted, "events": events, "columns": 6 + len(FEATURES) + N_ITEMS},
        "one_core": pinning,
        "mapping": json.dumps(EXPORT_MAPPING),
        "baseline": "model.logs.read_jsonl of a simulator log, events/s",
        "csv_read": rate_entry(rates[f"rows {wall}"], rates[f"jsonl {wall}"])
        | {"unit": per_wall, "path": _EVALUATE_PATH},
        "csv_read_cpu_time": rate_entry(rates[f"rows {cpu}"], rates[f"jsonl {cpu}"])
        | {"unit": per_cpu, "path": _EVALUATE_PATH},
        "csv_read_events": rate_entry(rates[f"events {wall}"], rates[f"jsonl {wall}"])
        | {"unit": per_wall, "path": _EVENTS_PATH},
        "csv_read_events_cpu_time": rate_entry(rates[f"events {cpu}"], rates[f"jsonl {cpu}"])
        | {"unit": per_cpu, "path": _EVENTS_PATH},
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
    }


_EVALUATE_PATH = "nudge evaluate: model.evaluation.export.feedback_from_log, no events"
_EVENTS_PATH = "model.logs.read_csv, every event iterated (replay, train)"
