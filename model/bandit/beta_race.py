"""P(arm i has the largest draw) for independent Beta posteriors, by quadrature.

``win_probabilities(alpha, beta)`` computes, for shapes ``(n,)``,

    P_i = integral over x of  f_i(x) * prod_{j != i} F_j(x)  dx

where ``f_i``/``F_i`` are the density and CDF of ``Beta(alpha_i, beta_i)``.

Method. The integral runs in the logit coordinate ``s = log(x / (1 - x))``, where each
density becomes ``x**alpha (1 - x)**beta`` (log-concave, no singularity at 0 or 1), on
panels shared by all arms, each with 8 Gauss-Legendre nodes (one 2-D array of log
densities, one ``exp``). The panel ends are

- a fixed skeleton: ``x = k/8``, and ``1/32, 3e-3, 1e-4, 1e-6, 1e-9, 1e-12`` from either
  end (``1e-20 ... 1e-300`` from 1 too, for a ``beta`` below 1);
- for every posterior narrower than the skeleton panel at its mode, ends on a dyadic
  lattice (spacing the largest power of 2 at most 4 logit-sds) within 8 sds of its mode:
  arms of similar width share ends, so the count grows with the spread of the posteriors,
  not with their number;

clipped to the union of the arms' windows (where a density is above ``exp(-30)`` times its
peak, from rigorous log-concavity bounds; beyond, a fraction below 1e-13 of its mass). Each
arm's CDF at the nodes comes from the same nodes (spectral integration within a panel, a
running sum across panels), each arm is normalised to mass 1, and the product over the
other arms' CDFs is ``prod_all / F_i``. Below ``x = 1e-12`` every density is a power law
and the race there has the closed form ``alpha_i / sum(alpha) * prod_k mass_k``; a draw
beyond the last end at 1 (mass at most ``(1e-300) ** beta``) counts as its own arm's win.

Before integrating, arms that cannot win are pruned: Beta(a, b) is sub-Gaussian with
variance proxy ``1 / (4 (a + b + 1))`` (Marchal & Arbel, 2017), so an arm whose mean +
``t`` is below another's mean - ``t`` (``t`` for tail probability 1e-12) wins with
probability below 2e-12; it gets 0 (and only the policy's floor). One arm left wins
outright; arms with identical posteriors (a new user without a model) are raced once, as
a group, and share their group's probability equally.

Accuracy: exact on closed forms (``Beta(a_i, 1)`` wins with ``a_i / sum(a)``, the mirror
case at 1) to 1e-11. Against a converged reference (a separate implementation of the
integral on many times more nodes) over ~1,000 random and hard cases (cold starts with
shapes down to 1e-3, up to 1e6 impressions, near ties, wide among narrow posteriors, means
near 0 and 0.95, groups) the largest error is about 2e-5 and the median 1e-11; the tests
also compare with seeded Monte Carlo. Domain:
float64 cannot resolve draws closer to 1 than about 1e-16 and a Beta sampler returns 1.0
there, breaking such ties by index; the integral is the exact race.
Cost: ``m * g`` density evaluations for ``m`` contenders and ``g`` nodes; at 81 arms ``g``
is about 100-130 (new users with a model prior, users with evidence, all narrow).

Implementations: ``win_probabilities_numpy`` here is the reference; where numba imports,
``win_probabilities`` is the same computation compiled as one kernel
(``model.bandit.beta_race_jit``; equal to the reference within 1e-12, tested), since for a
few contenders the numpy version's cost is its ~40 small numpy calls.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
from numpy.polynomial import legendre as _legendre

__all__ = ["prepare", "win_probabilities", "win_probabilities_numpy"]

_ALL = np.logical_and.reduce  # ndarray.all goes through two Python wrappers
_K = 8  # Gauss-Legendre nodes per panel
_NODES, _WEIGHTS = _legendre.leggauss(_K)
_X1 = 1e-12  # below this every density is a power law: the race there in closed form
_FAR = 1e-300  # with a beta below 1 the panels reach 1 - 1e-300 (mass beyond <= 1e-15)
_DROP = 30.0  # windows: where the log density has fallen this far below its peak
_QUADRATIC_SDS = float(np.sqrt(2 * _DROP))
_SDS_PER_PANEL = 4.0  # refined panels: at most this many logit-sds wide ...
_WINDOW_SDS = 8.0  # ... within this many logit-sds of the mode
_PRUNE_LOG_EPS = np.log(1e12)  # sub-Gaussian tail probability for pruning


def _cumulative_matrix() -> np.ndarray:
    """``(K, K)`` matrix ``M`` with ``(f @ M)[k] = integral from -1 to node k`` of the
    polynomial through ``f`` at the Gauss-Legendre nodes (spectral integration)."""
    basis = np.linalg.inv(_legendre.legvander(_NODES, _K - 1))  # column l: Lagrange l
    integral = np.empty((_K, _K))
    for node in range(_K):
        integral[:, node] = _legendre.legval(_NODES, _legendre.legint(basis[:, node], lbnd=-1))
    return np.ascontiguousarray(integral.T)


def _logit(x: np.ndarray) -> np.ndarray:
    return np.log(x) - np.log1p(-x)


_CUMULATIVE = _cumulative_matrix()
_S1 = float(_logit(np.array(_X1)))  # about -27.6
_S_FAR = -float(_logit(np.array(_FAR)))  # about 691
# skeleton panel ends: x = k/8, then log-spaced towards both ends, sorted
_ENDS = np.array([1 / 32, 3e-3, 1e-4, 1e-6, 1e-9, _X1])
_SKELETON = np.sort(
    np.concatenate(
        [
            _logit(np.arange(1, 8) / 8),
            _logit(_ENDS),
            -_logit(_ENDS),
            -_logit(np.array([1e-20, 1e-40, 1e-100, 1e-200, _FAR])),
        ]
    )
)
_WIDTHS = np.diff(_SKELETON)
_SKELETON_WIDTH = np.concatenate([_WIDTHS[:1], _WIDTHS, _WIDTHS[-1:]])  # by searchsorted
_STEPS = np.arange(int(np.ceil(4 * _WINDOW_SDS / _SDS_PER_PANEL)) + 2)


def _groups(
    alpha: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Distinct posteriors ``(alpha, beta, count)`` and each arm's group; count and group
    are None when all arms differ (the groups are then the arms, in order)."""
    order = np.lexsort((beta, alpha))
    sorted_a, sorted_b = alpha[order], beta[order]
    same = (sorted_a[1:] == sorted_a[:-1]) & (sorted_b[1:] == sorted_b[:-1])
    if not same.any():
        return alpha, beta, None, None
    first = np.concatenate([[True], ~same])
    group = np.cumsum(first) - 1
    inverse = np.empty(len(alpha), np.intp)
    inverse[order] = group
    return sorted_a[first], sorted_b[first], np.bincount(group).astype(float), inverse


def _contenders(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Arms that can win with probability above 2e-12, shape ``(n,)`` bool.

    Beta(a, b) is sub-Gaussian with variance proxy 1 / (4 (a + b + 1)) (Marchal & Arbel,
    2017): P(X - mean > t) <= exp(-2 (a + b + 1) t**2), and the same below the mean."""
    mean = alpha / (alpha + beta)
    t = np.sqrt(_PRUNE_LOG_EPS / (2 * (alpha + beta + 1)))
    return mean + t >= (mean - t).max()


def _windows(
    alpha: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per arm in the logit coordinate: mode, sd (from the curvature at the mode), the
    window ``[lo, hi]`` outside which its density is below ``exp(-30)`` times its peak, and
    the log of that peak.

    The density of ``s`` is log-concave, ``l(s) = a s - (a + b) log(1 + e**s)``, with
    ``l(mode) - l(mode - d) >= a d - (a + b) log(1 + a / b)`` and
    ``l(mode + d) - l(mode) >= b d - (a + b) log(1 + b / a)`` (tight for exponential
    tails), and, towards ``s = 0`` where the curvature ``(a + b) x (1 - x)`` only grows,
    ``>= d**2 / (2 sd**2)`` while ``d <= 2 |mode|``: its tails beyond the window hold a
    fraction of about ``exp(-30)`` of its mass."""
    log_a, log_b = np.log(alpha), np.log(beta)
    size = alpha + beta
    log_size = np.log(size)
    mode = log_a - log_b
    sd = np.sqrt(size / (alpha * beta))
    peak = alpha * (log_a - log_size) + beta * (log_b - log_size)
    quadratic = _QUADRATIC_SDS * sd
    inward = quadratic <= 2 * np.abs(mode)
    linear_lo = (_DROP + size * (log_size - log_b)) / alpha
    linear_hi = (_DROP + size * (log_size - log_a)) / beta
    lo = mode - np.where(inward & (mode > 0), quadratic, linear_lo)
    hi = mode + np.where(inward & (mode < 0), quadratic, linear_hi)
    return mode, sd, lo, hi, peak


def _panel_ends(mode: np.ndarray, sd: np.ndarray, s_lo: float, s_hi: float) -> np.ndarray:
    """Sorted distinct panel ends in the logit coordinate from ``s_lo`` to ``s_hi``.

    The skeleton, plus, for every arm narrower than the skeleton panel at its mode, ends
    on a dyadic lattice (spacing the largest power of 2 at most 4 sds) within 8 sds of its
    mode: arms of similar width share ends, so the panel count grows with the spread of
    the posteriors rather than their number."""
    parts = [_SKELETON]
    narrow = _SDS_PER_PANEL * sd < _SKELETON_WIDTH[np.searchsorted(_SKELETON, mode)]
    if narrow.any():
        step = np.exp2(np.floor(np.log2(_SDS_PER_PANEL * sd[narrow])))
        start = np.floor((mode[narrow] - _WINDOW_SDS * sd[narrow]) / step)
        parts.append(((start[:, None] + _STEPS) * step[:, None]).ravel())
    ends = np.sort(np.clip(np.concatenate(parts), s_lo, s_hi))
    return ends[np.concatenate([[True], ends[1:] > ends[:-1]])]


def _race(alpha: np.ndarray, beta: np.ndarray, count: np.ndarray | None) -> np.ndarray:
    """Unnormalised P(a given member of each group wins), shape ``(m,)``, for contenders
    in groups of ``count`` identical arms each (None: one each)."""
    m = len(alpha)
    mode, sd, lo, hi, peak = _windows(alpha, beta)
    s_top = _S_FAR if beta.min() < 1 else -_S1
    first_cell, last_cell = bool(lo.min() < _S1), bool(hi.max() > s_top)
    ends = _panel_ends(mode, sd, max(float(lo.min()), _S1), min(float(hi.max()), s_top))
    half = 0.5 * (ends[1:] - ends[:-1])
    s = ((ends[:-1] + half)[:, None] + half[:, None] * _NODES).ravel()
    # rows: log x, log(1 - x), log(panel half-width), 1; x = 1 / (1 + exp(-s))
    rows = np.empty((4, len(s)))
    soft = np.log1p(np.exp(-np.abs(s)))
    np.subtract(np.minimum(s, 0.0), soft, out=rows[0])
    np.subtract(np.minimum(-s, 0.0), soft, out=rows[1])
    log_half = np.log(half)
    rows[2] = np.repeat(log_half, _K)
    rows[3] = 1.0
    # log of the density in s (x**a (1 - x)**b, Jacobian included) times the half-width,
    # shifted by an upper bound (the peak) so that exp stays in range
    shift = peak + log_half.max()
    shapes = np.empty((m, 4))
    shapes[:, 0], shapes[:, 1], shapes[:, 2], shapes[:, 3] = alpha, beta, 1.0, -shift
    g = np.exp(shapes @ rows)
    # mass below 1e-12 (x**a / a) and above the last end ((1 - x)**b / b)
    log_first = alpha * np.log(_X1) - np.log(alpha) if first_cell else np.full(m, -np.inf)
    log_last = beta * -s_top - np.log(beta) if last_cell else np.full(m, -np.inf)
    first, last = np.exp(log_first - shift), np.exp(log_last - shift)
    panels = g.reshape(-1, _K)
    panel_mass = (panels @ _WEIGHTS).reshape(m, -1)
    scale = 1.0 / (first + panel_mass.sum(axis=1) + last)
    # CDF at each panel's start: mass below 1e-12 plus the panels before it
    start = panel_mass @ _strictly_upper(panel_mass.shape[1])
    start += first[:, None]
    start *= scale[:, None]
    g *= scale[:, None]
    cdf = (panels @ _CUMULATIVE).reshape(m, -1, _K)  # within each panel; g already scaled
    cdf += start[:, :, None]
    cdf = cdf.reshape(m, -1)
    np.maximum(cdf, 1e-300, out=cdf)
    # prod over j != i of F_j = (prod over all j of F_j) / F_i
    others = np.prod(cdf, axis=0) if count is None else np.exp(count @ np.log(cdf))
    others.reshape(-1, _K)[:] *= _WEIGHTS
    np.divide(g, cdf, out=g)
    wins = g @ others
    if first_cell:  # all draws below 1e-12: power laws race in closed form
        log_mass = log_first - shift + np.log(scale)
        if count is None:
            wins += alpha / alpha.sum() * np.exp(log_mass.sum())
        else:
            wins += alpha / (count @ alpha) * np.exp(count @ log_mass)
    if last_cell:  # a draw beyond the last end wins (ties there are below 1e-9)
        wins += last * scale
    return wins


@functools.lru_cache(maxsize=64)
def _strictly_upper(p: int) -> np.ndarray:
    """``(p, p)`` matrix with ones above the diagonal: ``v @ it`` is v's exclusive cumsum."""
    return np.triu(np.ones((p, p)), 1)


def win_probabilities_numpy(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """P(each arm's Beta draw is the largest), shape ``(n,)``, summing to 1: the numpy
    implementation, the reference for the compiled kernel (``win_probabilities`` uses the
    kernel where numba imports).

    alpha, beta: positive Beta parameters, shape ``(n,)``.
    """
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    n = len(alpha)
    if n == 1:
        return np.ones(1)
    if _ALL((alpha == alpha[0]) & (beta == beta[0])):
        return np.full(n, 1.0 / n)  # one group (a new user without a model): skip sorting
    a, b, count, inverse = _groups(alpha, beta)
    if len(a) == 1:
        return np.full(n, 1.0 / n)
    contenders = _contenders(a, b)
    if contenders.all():
        wins = _race(a, b, count)
    else:
        wins = np.zeros(len(a))
        if contenders.sum() == 1:
            wins[contenders] = 1.0
        else:
            sub_count = None if count is None else count[contenders]
            wins[contenders] = _race(a[contenders], b[contenders], sub_count)
    per_arm = wins if inverse is None else wins[inverse]
    return per_arm / per_arm.sum()


_Implementation = Callable[[np.ndarray, np.ndarray], np.ndarray]
_implementation: _Implementation | None = None  # chosen on first use (or by prepare)


def prepare() -> bool:
    """Choose the implementation now: the compiled kernel where numba imports (compiled,
    or loaded from numba's cache, and run once), else numpy; True for the kernel.
    ``ThompsonSampling`` calls it when built, so that a worker's first decision does not
    compile; importing this module does not import numba."""
    global _implementation
    if _implementation is None:
        try:
            import numba  # noqa: F401
        except ImportError:  # not installed, or not for this numpy
            _implementation = win_probabilities_numpy
        else:
            try:
                from model.bandit import beta_race_jit
            except Exception as error:  # a kernel that fails to compile: serve, slower
                message = f"beta_race: numba kernel unavailable ({error!r}); using numpy"
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                _implementation = win_probabilities_numpy
            else:
                _implementation = beta_race_jit.win_probabilities
    return _implementation is not win_probabilities_numpy


def win_probabilities(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """P(each arm's Beta draw is the largest), shape ``(n,)``, summing to 1: the compiled
    kernel where numba imports, else ``win_probabilities_numpy`` (the same to 1e-12).

    alpha, beta: positive Beta parameters, shape ``(n,)``.
    """
    if _implementation is None:
        prepare()
    assert _implementation is not None
    return _implementation(alpha, beta)
