"""Target policies as action distributions ``(n, n_arms)``, for the estimators.

- :func:`greedy_action_dist`: the argmax of predicted rewards, with an ``epsilon`` share
  spread uniformly;
- :func:`logging_action_dist`: the logging policy itself, as a sanity row: the logged
  arm gets its logged propensity, so IPS equals the logged mean exactly; the other arms
  share the rest equally (the log does not say more; only DR uses them);
- :func:`read_action_file`: a team's own candidate policy, given as a file of action
  probabilities per logged round or per context (see its docstring).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from model.evaluation.feedback import LoggedFeedback

__all__ = ["greedy_action_dist", "logging_action_dist", "read_action_file"]

_TOLERANCE = 1e-6


def greedy_action_dist(predicted: np.ndarray, epsilon: float = 0.0) -> np.ndarray:
    """From predicted rewards ``(n, n_arms)``: the argmax with probability ``1 - epsilon``
    plus ``epsilon`` spread uniformly; returns ``(n, n_arms)`` with rows summing to 1."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    n, m = predicted.shape
    dist = np.full((n, m), epsilon / m)
    dist[np.arange(n), predicted.argmax(1)] += 1.0 - epsilon
    return dist


def logging_action_dist(action: np.ndarray, pscore: np.ndarray, n_arms: int) -> np.ndarray:
    """The logging policy: ``pscore`` on the logged arm, the rest shared equally."""
    n = len(action)
    rest = (1.0 - pscore) / max(n_arms - 1, 1)
    dist = np.repeat(rest[:, None], n_arms, axis=1)
    dist[np.arange(n), action] = pscore
    return dist


def read_action_file(path: str | Path, fb: LoggedFeedback) -> np.ndarray:
    """The target's ``(len(fb), n_arms)`` distribution from a file.

    ``.npy``: an array ``(n, n_arms)`` over the log's decisions in log order, or OBP's
    ``(n, n_arms, n_positions)`` (each round reads its own slot, positions counted from
    1). ``.csv``: a header with ``arm_id`` and ``probability`` and key columns: either
    ``decision_id`` (per logged round) or context features (per context; ``position``
    is the slot); each key's probabilities must sum to 1. Every logged round must be
    covered and every arm known; otherwise a ``ValueError`` says which."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"target file {path}: no such file")
    if path.suffix.lower() == ".npy":
        return _from_array(np.load(path), fb, path)
    return _from_csv(path, fb)


def _from_array(array: np.ndarray, fb: LoggedFeedback, path: Path) -> np.ndarray:
    n, m = len(fb), fb.n_arms
    if array.ndim == 3 and array.shape[:2] == (n, m):
        slot = fb.position - 1
        if (slot < 0).any() or (slot >= array.shape[2]).any():
            raise ValueError(f"target file {path}: positions outside 1..{array.shape[2]}")
        array = array[np.arange(n), :, slot]
    if array.shape != (n, m):
        raise ValueError(
            f"target file {path}: shape {array.shape}, expected ({n}, {m}) "
            f"(the log's {n} decisions x {m} arms) or ({n}, {m}, positions)"
        )
    return _checked(np.asarray(array, np.float64), path, "round")


def _from_csv(path: Path, fb: LoggedFeedback) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as text:
        reader = csv.DictReader(text)
        header = [h.strip() for h in reader.fieldnames or ()]
        keys = [h for h in header if h not in ("arm_id", "probability")]
        if "arm_id" not in header or "probability" not in header or not keys:
            raise ValueError(
                f"target file {path}: the header needs arm_id, probability and key "
                f"columns (decision_id, or context features); it has {header}"
            )
        table = _read_table(reader, keys, fb, path)
    per_round = keys == ["decision_id"]
    round_keys = (
        [(d,) for d in fb.decision_ids.tolist()]
        if per_round
        else [
            tuple(_text(c.get(k, p if k == "position" else None)) for k in keys)
            for c, p in zip(fb.contexts, fb.position.tolist(), strict=True)
        ]
    )
    missing = [k for k in round_keys if k not in table]
    if missing:
        raise ValueError(
            f"target file {path}: {len(missing)} of {len(fb)} logged rounds have no "
            f"probabilities (first: {dict(zip(keys, missing[0], strict=True))})"
        )
    dist = np.stack([table[k] for k in round_keys])
    return _checked(dist, path, "round" if per_round else "context")


def _read_table(
    reader: csv.DictReader, keys: list[str], fb: LoggedFeedback, path: Path
) -> dict[tuple[str, ...], np.ndarray]:
    index = {a: i for i, a in enumerate(fb.arm_ids)}
    table: dict[tuple[str, ...], np.ndarray] = defaultdict(lambda: np.zeros(fb.n_arms))
    for line, row in enumerate(reader, 2):
        arm = (row.get("arm_id") or "").strip()
        if arm not in index:
            raise ValueError(
                f"target file {path}: line {line}: arm {arm!r} is not an arm of the log"
            )
        try:
            table[tuple((row.get(k) or "").strip() for k in keys)][index[arm]] += float(
                row["probability"]
            )
        except ValueError:
            raise ValueError(
                f"target file {path}: line {line}: probability {row['probability']!r} "
                "is not a number"
            ) from None
    return dict(table)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _checked(dist: np.ndarray, path: Path, unit: str) -> np.ndarray:
    if not np.isfinite(dist).all() or (dist < 0).any():
        raise ValueError(f"target file {path}: probabilities must be finite and >= 0")
    sums = dist.sum(1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _TOLERANCE)
    if len(bad):
        raise ValueError(
            f"target file {path}: the probabilities of {len(bad)} {unit}(s) do not sum "
            f"to 1 (first: round {bad[0]}, sum {sums[bad[0]]:.6g})"
        )
    return dist
