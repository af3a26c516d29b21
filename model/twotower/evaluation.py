"""Held-out evaluation of conversion probabilities (numpy only).

``labels`` are 0/1 of shape (n,), ``probs`` predicted probabilities of shape (n,).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "auc",
    "calibration",
    "confusion",
    "evaluate",
    "log_loss",
    "permutation_importance",
]


def auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN with one class."""
    y = np.asarray(labels) > 0
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(probs, kind="mergesort")
    sorted_p = np.asarray(probs)[order]
    ranks = np.empty(len(y))
    # average ranks of tied groups
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(probs, eps, 1 - eps)
    y = np.asarray(labels, float)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def confusion(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, Any]:
    """Accuracy, precision, recall and the confusion matrix at ``threshold``."""
    y, pred = np.asarray(labels) > 0, np.asarray(probs) >= threshold
    tp, fp = int((y & pred).sum()), int((~y & pred).sum())
    fn, tn = int((y & ~pred).sum()), int((~y & ~pred).sum())
    return {
        "threshold": threshold,
        "accuracy": (tp + tn) / max(len(y), 1),
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "matrix": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def calibration(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability bins of equal count (quantiles of ``probs``) and the expected
    calibration error ``ECE = sum_b (n_b / n) |mean(p_b) - mean(y_b)|``."""
    p, y = np.asarray(probs, float), np.asarray(labels, float)
    order = np.argsort(p, kind="mergesort")
    rows, ece = [], 0.0
    for chunk in np.array_split(order, min(bins, max(len(p), 1))):
        if len(chunk) == 0:
            continue
        predicted, observed = float(p[chunk].mean()), float(y[chunk].mean())
        rows.append({"count": len(chunk), "predicted": predicted, "observed": observed})
        ece += len(chunk) / len(p) * abs(predicted - observed)
    return {"bins": rows, "ece": ece}


def evaluate(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Every metric the artifact reports, JSON-ready."""
    return {
        "examples": len(labels),
        "positive_rate": float(np.mean(labels)) if len(labels) else float("nan"),
        "mean_prediction": float(np.mean(probs)) if len(probs) else float("nan"),
        "auc": auc(labels, probs),
        "log_loss": log_loss(labels, probs) if len(labels) else float("nan"),
        "confusion": confusion(labels, probs, threshold),
        "calibration": calibration(labels, probs),
    }


def permutation_importance(
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    users: np.ndarray,
    arms: np.ndarray,
    labels: np.ndarray,
    groups: Mapping[str, tuple[str, Sequence[int]]],
    rng: np.random.Generator,
    top: int = 10,
) -> list[dict[str, Any]]:
    """AUC drop when one feature's columns are shuffled across examples.

    ``predict(users (n, U), arms (n, A)) -> probs (n,)``; ``groups`` maps a feature name
    to ``("user" | "arm", columns)``. Returns the ``top`` features by drop, largest first.
    """
    baseline = auc(labels, predict(users, arms))
    drops = []
    for name, (side, columns) in groups.items():
        permuted_users, permuted_arms = users, arms
        perm = rng.permutation(len(labels))
        cols = list(columns)
        if side == "user":
            permuted_users = users.copy()
            permuted_users[:, cols] = users[perm][:, cols]
        else:
            permuted_arms = arms.copy()
            permuted_arms[:, cols] = arms[perm][:, cols]
        drop = baseline - auc(labels, predict(permuted_users, permuted_arms))
        drops.append({"feature": name, "side": side, "auc_drop": float(drop)})
    drops.sort(key=_drop_key)
    return drops[:top]


def _drop_key(row: Mapping[str, Any]) -> float:
    drop = float(row["auc_drop"])
    return -drop if np.isfinite(drop) else 0.0
