"""Rule-based: a fixed mapping from user segment to arm, the baseline a bank runs today.

The segment is the request's ``context[segment_key]`` as a string (``3`` and ``"3"`` are
the same segment). The mapped arm is served when it is among the candidates (guardrails
and retirement may have removed it); otherwise ``default`` when it is; otherwise the
rule cannot be followed and the policy falls back to uniform among the candidates,
marked ``explored`` with propensity ``1 / n``. Followed rules have propensity 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from model.bandit.base import Choice, PolicyConfigError, PolicyContext, check_inputs
from model.bandit.draws import Draws
from state import ArmStats

__all__ = ["RuleBased"]


@dataclass(frozen=True)
class RuleBased:
    rules: Mapping[str, str] = field(default_factory=dict)
    segment_key: str = "segment"
    default: str | None = None
    name: str = "rule-based"

    def __post_init__(self) -> None:
        if not self.rules:
            raise PolicyConfigError("rules must map at least one segment to an arm id")
        bad = {k: v for k, v in self.rules.items() if not _is_arm_id(v)}
        if bad:
            raise PolicyConfigError(f"rules must map segments to arm ids 'product:strategy': {bad}")
        if self.default is not None and not _is_arm_id(self.default):
            raise PolicyConfigError(f"default must be an arm id, got {self.default!r}")
        if not self.segment_key:
            raise PolicyConfigError("segment_key must be a non-empty string")
        object.__setattr__(self, "rules", {str(k): v for k, v in self.rules.items()})

    def target(self, candidates: Sequence[str], context: PolicyContext | None) -> int | None:
        """Index of the arm the rules prescribe among ``candidates``, or None."""
        features = context.features if context is not None else {}
        segment = features.get(self.segment_key)
        wanted = (self.rules.get(str(segment)) if segment is not None else None, self.default)
        for arm_id in wanted:
            if arm_id is not None and arm_id in candidates:
                return list(candidates).index(arm_id)
        return None

    def probabilities(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> np.ndarray:
        check_inputs(stats, scores, candidates)
        index = self.target(candidates, context)
        if index is None:
            return np.full(len(candidates), 1.0 / len(candidates))
        p = np.zeros(len(candidates))
        p[index] = 1.0
        return p

    def choose(
        self,
        stats: Sequence[ArmStats],
        scores: np.ndarray,
        candidates: Sequence[str],
        rng: Draws,
        *,
        context: PolicyContext | None = None,
    ) -> Choice:
        check_inputs(stats, scores, candidates)
        index = self.target(candidates, context)
        if index is not None:
            return Choice(index=index, propensity=1.0, explored=False)
        n = len(candidates)
        return Choice(index=int(rng.integers(n)), propensity=1.0 / n, explored=True)


def _is_arm_id(value: object) -> bool:
    return isinstance(value, str) and ":" in value and all(value.split(":", 1))
