"""A training round: read logged events, fit, validate, publish (``nudge train`` drives it).

One round (:func:`train_round`): events -> examples (``model.twotower.dataset``, labelled
by the engine's own attribution rule: ``AttributionRule.of(engine_config(settings))``) -> split
by user or time -> fit -> compare with the model serving now (the newest valid artifact
in the model directory) on the same held-out examples -> write the artifact; the driver
(``streams.apps.training``) announces :func:`update_message` on the ``model-updates``
topic. A candidate whose
AUC is worse than the serving model's by more than ``max_auc_drop``, or whose scores are
not finite, is not published.

Arms of the log that the catalog lacks and that are not ``product:strategy`` ids (another
system's item ids) are trained as plain arms with neutral features
(``model.catalog.with_plain_arms``): the model tells them apart by their id. The label
(``TrainOptions.label``) is ``success`` (a success kind credited), ``reward`` (any reward
credited, e.g. a click with its serving weight) or ``auto``: ``success`` when the log has
a credited success, else ``reward``; the round reports which, with the rule.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from model.attribution import AttributionRule
from model.catalog import Catalog, with_plain_arms
from model.events import LogEvent
from model.logs import ColumnMapping, read_log
from model.twotower.artifact import newest_valid
from model.twotower.dataset import (
    LABELS,
    Example,
    build_examples,
    split_by_time,
    split_by_user,
)
from model.twotower.scorer import TwoTowerScorer, validate_scorer

__all__ = [
    "RoundResult",
    "TrainOptions",
    "events_in_window",
    "labelled_examples",
    "parse_duration",
    "read_log_events",
    "train_round",
    "update_message",
]

log = logging.getLogger(__name__)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


@dataclass(frozen=True)
class TrainOptions:
    """What a round trains and how it is judged (model hyper-parameters in ``train``)."""

    train: Any  # model.twotower.train.TrainConfig (torch is imported only when training)
    split: str = "user"
    holdout: float = 0.2
    min_examples: int = 100
    max_auc_drop: float = 0.02
    version: str | None = None
    force: bool = False
    skip_unchanged: bool = False  # periodic mode: no new event since the serving model
    label: str = "auto"  # success | reward | auto (see the module docstring)

    def __post_init__(self) -> None:
        if self.label not in (*LABELS, "auto"):
            raise ValueError(f"label must be auto, success or reward, got {self.label!r}")
        if self.split not in ("user", "time"):
            raise ValueError(f"split must be 'user' or 'time', got {self.split!r}")
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout}")


@dataclass(frozen=True)
class RoundResult:
    outcome: str  # published | rejected | skipped
    reason: str
    version: str | None = None
    path: Path | None = None
    metrics: Mapping[str, Any] | None = None
    serving_metrics: Mapping[str, Any] | None = None
    label: str = ""  # the label rule the round trained with


def parse_duration(text: str) -> float:
    """``"90s"``, ``"10m"``, ``"1.5h"``, ``"7d"``, ``"500ms"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a positive duration: {text!r} (e.g. 30s, 10m, 1h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def events_in_window(
    events: Iterable[LogEvent],
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    window_seconds: float | None = None,
) -> list[LogEvent]:
    """Events with ``since_ms <= ts < until_ms``; ``window_seconds`` keeps only the newest
    stretch of that length, measured back from the newest event."""
    kept = [
        e
        for e in events
        if (since_ms is None or e.ts >= since_ms) and (until_ms is None or e.ts < until_ms)
    ]
    if window_seconds is not None and kept:
        start = max(e.ts for e in kept) - window_seconds * 1000
        kept = [e for e in kept if e.ts >= start]
    return kept


def read_log_events(path: Path, columns: ColumnMapping | None = None) -> list[LogEvent]:
    """A JSONL, Parquet or CSV log (``model.logs.read_log``); ``columns`` maps the
    columns of a CSV export (a mapping for another format is a ``ValueError``)."""
    return list(read_log(path, columns))


def _split(examples: list[Example], options: TrainOptions) -> tuple[list[Example], list[Example]]:
    if options.split == "time":
        return split_by_time(examples, options.holdout)
    return split_by_user(examples, options.holdout)


def train_round(
    events: list[LogEvent],
    catalog: Catalog,
    model_dir: Path,
    options: TrainOptions,
    *,
    rule: AttributionRule | None = None,
    progress: bool = False,
) -> RoundResult:
    """Fit one candidate and publish it when it is at least as good as the serving model.
    ``rule`` is the engine's attribution rule (default: the engine's defaults)."""
    from model.twotower.pipeline import evaluate_scorer, fit, judged_examples, write

    rule = rule or AttributionRule()
    examples, label = labelled_examples(events, rule, options.label)
    if len(examples) < options.min_examples:
        reason = f"{len(examples)} examples < {options.min_examples}"
        return RoundResult("skipped", reason, label=label)
    newest_ms = max(e.ts for e in events)
    serving, errors = newest_valid(model_dir)
    if options.skip_unchanged and serving and serving.data.get("source_last_ts_ms") == newest_ms:
        return RoundResult("skipped", f"no event newer than those {serving.version} saw")
    catalog = with_plain_arms(catalog, sorted({e.arm_id for e in examples}))
    train, held = _split(examples, options)
    result = fit(
        train,
        held,
        catalog,
        options.train,
        version=options.version,
        split=options.split,
        progress=progress,
    )
    data = {**result.artifact.data, "source_last_ts_ms": newest_ms, "label": label}
    result = replace(result, artifact=replace(result.artifact, data=data))
    validate_scorer(TwoTowerScorer(result.artifact, catalog))
    for error in errors:
        log.warning("ignoring broken artifact: %s", error)
    serving_metrics = None
    if serving is not None and held:
        judged = judged_examples(held)[0]  # the candidate's judges (randomized, if any)
        serving_metrics = evaluate_scorer(TwoTowerScorer(serving, catalog), judged)
        worse = _auc_drop(result.metrics, serving_metrics)
        if worse > options.max_auc_drop and not options.force:
            reason = (
                f"AUC {worse:.4f} below serving {serving.version} (margin {options.max_auc_drop})"
            )
            return RoundResult(
                "rejected",
                reason,
                result.artifact.version,
                None,
                result.metrics,
                serving_metrics,
                label,
            )
    path = write(result, model_dir)
    return RoundResult(
        "published", "ok", result.artifact.version, path, result.metrics, serving_metrics, label
    )


def labelled_examples(
    events: list[LogEvent], rule: AttributionRule, label: str
) -> tuple[list[Example], str]:
    """Examples labelled as ``label`` says (``auto``: by success kinds when one was
    credited, else by reward), and the label rule in words."""
    examples = build_examples(events, rule=rule, label="success" if label == "auto" else label)
    if label == "auto":
        label = "success"
        if not any(e.label for e in examples) and any(e.reward > 0 for e in examples):
            label = "reward"
            examples = [replace(e, label=int(e.reward > 0)) for e in examples]
    kinds = ", ".join(sorted(rule.success_kinds))
    weights = ", ".join(f"{k} {w:g}" for k, w in sorted(rule.reward_weights.items()))
    return examples, f"{label}: label " + LABELS[label].format(kinds=kinds, weights=weights) + (
        f"; window {rule.window_seconds:g} s, half-life "
        f"{'none' if rule.half_life_seconds is None else f'{rule.half_life_seconds:g} s'}"
    )


def _auc_drop(candidate: Mapping[str, Any], serving: Mapping[str, Any]) -> float:
    new, old = float(candidate.get("auc", math.nan)), float(serving.get("auc", math.nan))
    if math.isnan(old):
        return 0.0
    return math.inf if math.isnan(new) else old - new


def update_message(path: Path, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The ``model-updates`` announcement of the artifact at ``path``."""
    model = json.loads((path / "model.json").read_text())
    return {
        "version": model["version"],
        "path": str(path.resolve()),
        "trained_at": model["trained_at"],
        "metrics": {
            "auc": _finite(metrics.get("auc")),
            "log_loss": _finite(metrics.get("log_loss")),
            "ece": _finite(metrics.get("calibration", {}).get("ece")),
            "examples": metrics.get("examples"),
        },
    }


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
