"""``model.bandit.beta_race`` compiled: the same race, one numba kernel per call.

For a few contender groups the numpy implementation's cost is its ~40 small numpy calls,
not its arithmetic; this module runs the whole of ``win_probabilities`` (grouping,
pruning, windows, panel ends, nodes, CDFs, the product over the other arms, the
closed-form cells) as one ``@njit`` function with the same skeleton, panels, nodes,
windows and formulas, so the two agree to rounding (the tests hold them within 1e-12).

Importing it (``beta_race.prepare``, which ``ThompsonSampling`` calls when built)
compiles the kernel, or loads it from numba's cache (``NUMBA_CACHE_DIR`` where set, else
``__pycache__``, else numba's per-user cache directory; where none is writable it
compiles in memory, without a warning), and runs it once, so a worker's first decision is not slow.
Differences from the numpy code, all at rounding level: loops instead of array calls; the
exponent ``a log x + b log(1 - x)`` with one fused multiply-add, as the reference's GEMM
rounds it on FMA hardware (with shapes near 1e7 the two terms cancel, and rounding there
would show at 1e-11); a group's CDF to the power of its size by repeated squaring instead
of ``exp(count log F)``; groups found by a scan while there are at most 16.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from model.bandit.beta_race import (
    _CUMULATIVE,
    _DROP,
    _K,
    _NODES,
    _PRUNE_LOG_EPS,
    _QUADRATIC_SDS,
    _S1,
    _S_FAR,
    _SDS_PER_PANEL,
    _SKELETON,
    _SKELETON_WIDTH,
    _STEPS,
    _WEIGHTS,
    _WINDOW_SDS,
    _X1,
)

__all__ = ["win_probabilities"]

# plain module constants (numba freezes global arrays into the compiled code)
_SKEL = np.ascontiguousarray(_SKELETON)
_SKEL_WIDTH = np.ascontiguousarray(_SKELETON_WIDTH)
_NODE = np.ascontiguousarray(_NODES)
_WEIGHT = np.ascontiguousarray(_WEIGHTS)
_CUM = np.ascontiguousarray(_CUMULATIVE)
_N_STEPS = len(_STEPS)
_LOG_X1 = float(np.log(_X1))
_FEW = 16  # up to this many distinct posteriors are grouped by a scan, beyond by a sort


def _jit(function: Callable[..., Any]) -> Any:
    """``njit(cache=True)``, or without the cache where numba finds no writable place for
    it (a read-only install without a user cache directory)."""
    try:
        return numba.njit(cache=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(cache=False)(function)


def _fused_multiply_add(typingctx: Any, x: Any, y: Any, z: Any) -> Any:
    """``x * y + z`` rounded once (LLVM's fma): as OpenBLAS's GEMM kernels accumulate,
    so that the exponent ``a log x + b log(1 - x)``, where large shapes cancel, rounds as
    the reference's ``shapes @ rows`` does on FMA hardware."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        return builder.fma(*args)

    return signature, codegen


_fma: Any = intrinsic(_fused_multiply_add)


@_jit
def _int_power(x: float, power: int) -> float:
    """``x ** power`` for an integer ``power >= 1`` by repeated squaring."""
    result = 1.0
    while power > 0:
        if power & 1:
            result *= x
        x *= x
        power >>= 1
    return result


@_jit
def _race(alpha: np.ndarray, beta: np.ndarray, grouped: bool, count: np.ndarray) -> np.ndarray:
    """``beta_race._race`` (count used only when ``grouped``)."""
    m = len(alpha)
    k_nodes = _K
    # windows
    mode = np.empty(m)
    sd = np.empty(m)
    lo = np.empty(m)
    hi = np.empty(m)
    peak = np.empty(m)
    for i in range(m):
        a, b = alpha[i], beta[i]
        log_a, log_b = np.log(a), np.log(b)
        size = a + b
        log_size = np.log(size)
        mode[i] = log_a - log_b
        sd[i] = np.sqrt(size / (a * b))
        peak[i] = a * (log_a - log_size) + b * (log_b - log_size)
        quadratic = _QUADRATIC_SDS * sd[i]
        inward = quadratic <= 2 * np.abs(mode[i])
        linear_lo = (_DROP + size * (log_size - log_b)) / a
        linear_hi = (_DROP + size * (log_size - log_a)) / b
        lo[i] = mode[i] - (quadratic if inward and mode[i] > 0 else linear_lo)
        hi[i] = mode[i] + (quadratic if inward and mode[i] < 0 else linear_hi)
    s_top = _S_FAR if beta.min() < 1 else -_S1
    lo_min, hi_max = lo.min(), hi.max()
    first_cell, last_cell = lo_min < _S1, hi_max > s_top
    s_lo, s_hi = max(lo_min, _S1), min(hi_max, s_top)
    # panel ends: the skeleton plus the narrow arms' dyadic lattices, clipped, distinct
    slots = np.searchsorted(_SKEL, mode)
    n_narrow = 0
    for i in range(m):
        if _SDS_PER_PANEL * sd[i] < _SKEL_WIDTH[slots[i]]:
            n_narrow += 1
    n_skel = len(_SKEL)
    raw = np.empty(n_skel + n_narrow * _N_STEPS)
    raw[:n_skel] = _SKEL
    at = n_skel
    for i in range(m):
        if _SDS_PER_PANEL * sd[i] < _SKEL_WIDTH[slots[i]]:
            step = np.exp2(np.floor(np.log2(_SDS_PER_PANEL * sd[i])))
            start = np.floor((mode[i] - _WINDOW_SDS * sd[i]) / step)
            for k in range(_N_STEPS):
                raw[at] = (start + k) * step
                at += 1
    for j in range(len(raw)):
        raw[j] = min(max(raw[j], s_lo), s_hi)
    raw.sort()
    n_ends = 1
    for j in range(1, len(raw)):
        if raw[j] > raw[j - 1]:
            n_ends += 1
    ends = np.empty(n_ends)
    ends[0] = raw[0]
    at = 1
    for j in range(1, len(raw)):
        if raw[j] > raw[j - 1]:
            ends[at] = raw[j]
            at += 1
    # nodes and the per-node rows: log x, log(1 - x), log(panel half-width)
    n_panels = n_ends - 1
    n = n_panels * k_nodes
    log_x = np.empty(n)
    log_1x = np.empty(n)
    log_half = np.empty(n_panels)
    for p in range(n_panels):
        half = 0.5 * (ends[p + 1] - ends[p])
        mid = ends[p] + half
        log_half[p] = np.log(half)
        for k in range(k_nodes):
            s = mid + half * _NODE[k]
            soft = np.log1p(np.exp(-np.abs(s)))
            log_x[p * k_nodes + k] = min(s, 0.0) - soft
            log_1x[p * k_nodes + k] = min(-s, 0.0) - soft
    max_log_half = log_half.max()
    g = np.empty((m, n))
    first = np.zeros(m)
    last = np.zeros(m)
    log_first = np.full(m, -np.inf)
    shift = np.empty(m)
    scale = np.empty(m)
    cdf = np.empty((m, n))
    for i in range(m):
        a, b = alpha[i], beta[i]
        shift[i] = peak[i] + max_log_half
        for p in range(n_panels):
            for k in range(k_nodes):
                j = p * k_nodes + k
                # as shapes @ rows: (((a log x) + b log(1 - x)) + log half) - shift, fused
                g[i, j] = np.exp(_fma(b, log_1x[j], a * log_x[j]) + log_half[p] - shift[i])
        # mass below 1e-12 (x**a / a) and above the last end ((1 - x)**b / b)
        if first_cell:
            log_first[i] = a * _LOG_X1 - np.log(a)
            first[i] = np.exp(log_first[i] - shift[i])
        if last_cell:
            last[i] = np.exp(b * -s_top - np.log(b) - shift[i])
        total = 0.0
        for p in range(n_panels):
            mass = 0.0
            for k in range(k_nodes):
                mass += g[i, p * k_nodes + k] * _WEIGHT[k]
            cdf[i, p * k_nodes] = mass  # panel mass, for now
            total += mass
        scale[i] = 1.0 / (first[i] + total + last[i])
        # CDF at each panel's start, then within it (spectral integration)
        running = 0.0
        for p in range(n_panels):
            mass = cdf[i, p * k_nodes]
            start = (running + first[i]) * scale[i]
            running += mass
            for k in range(k_nodes):
                g[i, p * k_nodes + k] *= scale[i]
            for k in range(k_nodes):
                acc = 0.0
                for q in range(k_nodes):
                    acc += g[i, p * k_nodes + q] * _CUM[q, k]
                cdf[i, p * k_nodes + k] = max(acc + start, 1e-300)
    # prod over j != i of F_j = (prod over all j of F_j) / F_i
    # (a group's factor is its CDF to the power of its size, by repeated squaring: the
    # reference's exp(count @ log F) to rounding, without m * g logs)
    others = np.ones(n)
    for i in range(m):
        power = int(count[i]) if grouped else 1
        for j in range(n):
            others[j] *= _int_power(cdf[i, j], power)
    for j in range(n):
        others[j] *= _WEIGHT[j % k_nodes]
    wins = np.zeros(m)
    for i in range(m):
        acc = 0.0
        for j in range(n):
            acc += g[i, j] / cdf[i, j] * others[j]
        wins[i] = acc
    if first_cell:  # all draws below 1e-12: power laws race in closed form
        log_mass_sum = 0.0
        alpha_sum = 0.0
        for i in range(m):
            log_mass = log_first[i] - shift[i] + np.log(scale[i])
            weight = count[i] if grouped else 1.0
            log_mass_sum += weight * log_mass
            alpha_sum += weight * alpha[i]
        tail = np.exp(log_mass_sum)
        for i in range(m):
            wins[i] += alpha[i] / alpha_sum * tail
    if last_cell:  # a draw beyond the last end wins
        for i in range(m):
            wins[i] += last[i] * scale[i]
    return wins


@_jit
def _win_probabilities(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``beta_race.win_probabilities`` on float64 arrays."""
    n = len(alpha)
    if n == 1:
        return np.ones(1)
    all_same = True
    for i in range(1, n):
        if alpha[i] != alpha[0] or beta[i] != beta[0]:
            all_same = False
            break
    if all_same:
        return np.full(n, 1.0 / n)
    # groups of identical posteriors, in np.lexsort((beta, alpha)) order (by alpha, then
    # beta) as the reference: a scan while there are few, else a sort
    inverse = np.empty(n, np.intp)
    few_a = np.empty(_FEW)
    few_b = np.empty(_FEW)
    n_groups = 0
    for i in range(n):
        found = -1
        for group in range(n_groups):
            if alpha[i] == few_a[group] and beta[i] == few_b[group]:
                found = group
                break
        if found < 0:
            if n_groups == _FEW:
                n_groups = -1
                break
            few_a[n_groups], few_b[n_groups] = alpha[i], beta[i]
            found = n_groups
            n_groups += 1
        inverse[i] = found
    if n_groups > 0:
        rank = np.zeros(n_groups, np.intp)
        for group in range(n_groups):
            for other in range(n_groups):
                if few_a[other] < few_a[group] or (
                    few_a[other] == few_a[group] and few_b[other] < few_b[group]
                ):
                    rank[group] += 1
        a = np.empty(n_groups)
        b = np.empty(n_groups)
        for group in range(n_groups):
            a[rank[group]], b[rank[group]] = few_a[group], few_b[group]
        for i in range(n):
            inverse[i] = rank[inverse[i]]
    else:
        by_beta = np.argsort(beta, kind="mergesort")
        order = by_beta[np.argsort(alpha[by_beta], kind="mergesort")]
        sorted_a, sorted_b = alpha[order], beta[order]
        n_groups = 1
        for i in range(1, n):
            if sorted_a[i] != sorted_a[i - 1] or sorted_b[i] != sorted_b[i - 1]:
                n_groups += 1
        a = np.empty(n_groups)
        b = np.empty(n_groups)
        group = -1
        for i in range(n):
            if i == 0 or sorted_a[i] != sorted_a[i - 1] or sorted_b[i] != sorted_b[i - 1]:
                group += 1
                a[group], b[group] = sorted_a[i], sorted_b[i]
            inverse[order[i]] = group
    grouped = n_groups < n
    count = np.zeros(n_groups)
    if grouped:
        for i in range(n):
            count[inverse[i]] += 1.0
    else:  # all differ: the arms in their order, as the reference
        a = alpha.copy()
        b = beta.copy()
        for i in range(n):
            inverse[i] = i
            count[i] = 1.0
    # contenders: sub-Gaussian pruning
    mean = a / (a + b)
    t = np.sqrt(_PRUNE_LOG_EPS / (2 * (a + b + 1)))
    floor = (mean - t).max()
    contenders = np.flatnonzero(mean + t >= floor)
    wins = np.zeros(n_groups)
    if len(contenders) == 1:
        wins[contenders[0]] = 1.0
    elif len(contenders) == n_groups:
        wins = _race(a, b, grouped, count)
    else:
        sub = _race(a[contenders], b[contenders], grouped, count[contenders])
        for c in range(len(contenders)):
            wins[contenders[c]] = sub[c]
    per_arm = np.empty(n)
    total = 0.0
    for i in range(n):
        per_arm[i] = wins[inverse[i]]
        total += per_arm[i]
    return per_arm / total


def win_probabilities(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """P(each arm's Beta draw is the largest), shape ``(n,)``, summing to 1 (compiled)."""
    result: np.ndarray = _win_probabilities(
        np.ascontiguousarray(alpha, np.float64), np.ascontiguousarray(beta, np.float64)
    )
    return result


def _warm_up() -> None:
    """Compile (or load from the cache) once, with any numba warning about the cache
    silenced: a read-only install then compiles in memory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        win_probabilities(np.array([2.0, 3.0, 3.0]), np.array([30.0, 40.0, 40.0]))
        win_probabilities(np.array([2.0, 3.0]), np.array([30.0, 40.0]))


_warm_up()
