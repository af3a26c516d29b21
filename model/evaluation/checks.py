"""Warnings about an evaluation's figures that the figures themselves do not show.

DR adds the reward model's predicted value of the target to an importance-weighted
correction. Its reward model (:class:`~model.evaluation.reward_model.SegmentRateModel`)
estimates one rate per (segment, arm) cell from the fitted rounds, each weighted by
``1 / propensity``. With few rounds a cell, most cells hold zero or one round, and a
cell with one lucky conversion weighs ``1 / propensity`` observations (81 on a uniform
log of 81 arms) against the prior's 20: its rate comes out at 0.8 or more. A greedy target
picks exactly those cells, the correction cannot undo it (the target's arms were rarely
logged), and DR reports their rate: 0.75 against a logged mean of 0.06 on a 135-round
fit of 81 arms (the case that raised this). :func:`reward_model_warnings` says so.

The threshold, :data:`MIN_ROUNDS_PER_CELL` fitted rounds per cell on average, is the
usual rule of thumb of ten observations per estimated parameter (Peduzzi et al., 1996:
ten events per variable); here every cell is one parameter. A value outside the range
of the logged rewards is flagged whatever the rounds: a policy's value is a mean of
rewards, so it cannot lie there.
"""

from __future__ import annotations

import numpy as np

from model.evaluation.estimators import Estimate

__all__ = ["MIN_ROUNDS_PER_CELL", "reward_model_warnings"]

MIN_ROUNDS_PER_CELL = 10


def reward_model_warnings(
    n_fit: int, n_segments: int, n_arms: int, reward: np.ndarray, rows: list[Estimate]
) -> list[str]:
    """Why not to trust DR: a model fit on fewer than :data:`MIN_ROUNDS_PER_CELL` rounds
    per (segment, arm) cell, or a DR value outside ``[min, max]`` of the logged
    ``reward`` (n,). ``rows``: the overall estimates (``dr`` and the logged mean)."""
    by_name = {e.name: e for e in rows}
    dr, logged = by_name.get("dr"), by_name.get("logging (on-policy mean)")
    if dr is None or dr.n_used == 0 or not np.isfinite(dr.value):
        return []
    against = f" against a logged mean of {logged.value:.4f}" if logged is not None else ""
    found = []
    cells = n_segments * n_arms
    if n_fit < MIN_ROUNDS_PER_CELL * cells:
        found.append(
            f"the reward model was fit on {n_fit} rounds for {cells} (segment x arm) cells "
            f"({n_segments} segments x {n_arms} arms), fewer than {MIN_ROUNDS_PER_CELL} a "
            f"cell ({MIN_ROUNDS_PER_CELL * cells}): most cells rest on a round or none, and "
            f"DR ({dr.value:.4f}{against}) leans on their rates; do not trust DR (use IPS "
            "or SNIPS, or fit on more rounds: a longer log or a larger --train-share)"
        )
    low, high = float(np.min(reward)), float(np.max(reward))
    if not low <= dr.value <= high:
        found.append(
            f"DR ({dr.value:.4f}{against}) lies outside the range of the logged rewards "
            f"[{low:.4g}, {high:.4g}], where no policy's value can lie: the reward model "
            "is off; do not trust DR"
        )
    return found
