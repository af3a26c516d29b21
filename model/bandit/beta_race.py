"""P(arm i has the largest draw) for independent Beta posteriors, by quadrature.

``win_probabilities(alpha, beta)`` computes, for shapes ``(n,)``,

    P_i = integral over x of  f_i(x) * prod_{j != i} F_j(x)  dx

where ``f_i``/``F_i`` are the density and CDF of ``Beta(alpha_i, beta_i)``. Each arm's
mass is integrated cell by cell on one shared grid of [0, 1] made of a uniform part, 25
points within 8 standard deviations of the mean of every arm too narrow for the uniform
part (so narrow posteriors are resolved) and log-spaced points towards 0 and 1 when a
shape below 1 makes a density singular there. Interior cells use the trapezoid rule on
the density; the two end cells use the exact leading term of the integral (``x**alpha /
alpha`` near 0, its mirror near 1). Within a cell the other arms' CDFs are averaged over
the cell's two ends, except in the first cell, where the race among power laws has the
closed form ``alpha_i / sum(alpha) * prod_k mass_k``. Each arm's masses are normalised
to 1 and the result is normalised to sum to 1.

Domain: float64 cannot resolve draws closer to 1 than about 1e-16 (neither can a Beta
sampler), so posteriors with ``beta`` below about 0.05 race poorly near 1; Thompson
keeps its prior mean at most 0.95 and its prior strength at least 1, which avoids them.
Checked against 400,000-draw Monte Carlo in the tests (cold start with shapes near 0,
thousands of impressions, near ties): the largest error is below 0.01 (typically 0.002).
Cost: about ``n * (260 + 25 k)`` density evaluations for ``k`` narrow posteriors (plus 240
edge points when a density is singular at 0 or 1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["win_probabilities"]

_UNIFORM = np.linspace(0.0, 1.0, 257)
_EDGES = np.geomspace(1e-12, 0.05, 48)
_LOCAL = np.linspace(-8.0, 8.0, 25)
_NARROW_SD = 4.0 / 256  # wider posteriors span >= 8 cells of the uniform grid on each side


def _grid(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Sorted unique grid points in [0, 1] including both ends, shape ``(g,)``.

    Local points are added only around posteriors narrower than a few uniform cells, and
    log-spaced edge points only when some density is singular at an end: the grid, and
    so the cost, grows with the number of sharp posteriors, not with the number of arms.
    """
    total = alpha + beta
    mean = alpha / total
    sd = np.sqrt(mean * (1 - mean) / (total + 1))
    narrow = sd < _NARROW_SD
    local = (mean[narrow, None] + sd[narrow, None] * _LOCAL[None, :]).ravel()
    parts = [_UNIFORM, local]
    if (alpha < 1).any():
        parts.append(_EDGES)
    if (beta < 1).any():
        parts.append(1.0 - _EDGES)
    return np.unique(np.clip(np.concatenate(parts), 0.0, 1.0))


def _contenders(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Arms that can plausibly win, shape ``(n,)`` bool.

    An arm whose mean + 10 sd lies below another arm's mean - 10 sd wins with a
    probability far below the method's error (and its CDF is 1 wherever a contender's
    mass is), so it gets 0 here and only the policy's floor."""
    total = alpha + beta
    mean = alpha / total
    sd = np.sqrt(mean * (1 - mean) / (total + 1))
    return mean + 10 * sd >= (mean - 10 * sd).max()


def _cell_masses(alpha: np.ndarray, beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Probability mass of every arm in every cell ``[x_k, x_k+1]``, shape ``(n, g - 1)``."""
    a, b = alpha[:, None], beta[:, None]
    inner = x[1:-1][None, :]
    log_density = (a - 1) * np.log(inner) + (b - 1) * np.log1p(-inner)
    x1, xl = x[1], x[-2]
    log_first = a * np.log(x1) - np.log(a) + (b - 1) * np.log1p(-x1)
    log_last = b * np.log1p(-xl) - np.log(b) + (a - 1) * np.log(xl)
    shift = np.maximum(log_density.max(axis=1, keepdims=True), np.maximum(log_first, log_last))
    density = np.exp(log_density - shift)
    middle = 0.5 * (density[:, 1:] + density[:, :-1]) * np.diff(x[1:-1])[None, :]
    masses = np.concatenate([np.exp(log_first - shift), middle, np.exp(log_last - shift)], axis=1)
    return masses / masses.sum(axis=1, keepdims=True)


def win_probabilities(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """P(each arm's Beta draw is the largest), shape ``(n,)``, summing to 1.

    alpha, beta: positive Beta parameters, shape ``(n,)``.
    """
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    if len(alpha) == 1:
        return np.ones(1)
    contenders = _contenders(alpha, beta)
    if not contenders.all():
        wins = np.zeros(len(alpha))
        wins[contenders] = win_probabilities(alpha[contenders], beta[contenders])
        return wins
    x = _grid(alpha, beta)
    masses = _cell_masses(alpha, beta, x)
    cdf = np.concatenate([np.zeros((len(alpha), 1)), np.cumsum(masses, axis=1)], axis=1)
    cdf_in_cell = np.clip(0.5 * (cdf[:, 1:] + cdf[:, :-1]), 1e-300, 1.0)
    log_cdf = np.log(cdf_in_cell)
    # prod over j != i of F_j = exp(sum_j log F_j) / F_i: one exp per cell, not per arm
    others = np.exp(log_cdf.sum(axis=0))[None, :] / cdf_in_cell
    wins = (masses[:, 1:] * others[:, 1:]).sum(axis=1)
    # first cell exactly: with F_k(x) = m_k (x / x_1) ** alpha_k there,
    # P(i wins inside it) = alpha_i / sum(alpha) * prod_k m_k  (ties near 0 resolved)
    wins += alpha / alpha.sum() * np.exp(np.log(np.maximum(masses[:, 0], 1e-300)).sum())
    return wins / wins.sum()
