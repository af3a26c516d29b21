"""The compiled Beta race (``model.bandit.beta_race_jit``) against the numpy reference
(``beta_race.win_probabilities_numpy``): equal to 1e-12 on random and hard cases; the
fallback without numba; a read-only install (no cache) still compiles, silently."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from model.bandit import beta_race
from tests.unit.test_beta_race import (
    _cold_near_zero,
    _groups,
    _narrow_overlapping,
    _thompson_shapes,
    _user_with_some_evidence,
    _wide_and_narrow,
)

pytest.importorskip("numba")
from model.bandit import beta_race_jit  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXACT = 1e-12


def _hard_cases() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The reference tests' cases, and more of their kind."""
    for case in [_narrow_overlapping, _wide_and_narrow, _cold_near_zero]:
        yield case()
    yield _user_with_some_evidence()
    yield _groups()
    few = [
        ([20_000.0, 20_100.0, 3.0], [380_000.0, 381_500.0, 57.0]),
        ([1.4, 3714.6, 192.7], [8.5, 33_604.0, 1726.3]),
        ([1.0, 1.8, 1.9, 0.9], [1.0, 0.2, 0.1, 0.5]),
        ([2827.0, 4555.2], [25_791.9, 41_413.8]),
        ([0.05, 0.3, 1.0, 2.5, 7.0], [1.0] * 5),
        ([0.002, 0.01, 0.05], [1.0] * 3),
        ([1.0] * 4, [0.05, 0.06, 1.0, 30.0]),
        ([5000.0, 10.0], [5000.0, 990.0]),  # pruned: one contender
        ([5000.0, 5010.0, 10.0], [5000.0, 4990.0, 990.0]),  # pruned: two of three
        ([0.3], [2.0]),
        ([3.0] * 81, [27.0] * 81),
        ([1e-3, 1e-3, 2e-3], [1e-3, 2e-3, 1e-3]),  # mass piled at both ends
        ([1e7, 1e7 + 3e3], [1e7, 1e7]),  # very narrow near 1/2
    ]
    for alpha, beta in few:
        yield np.array(alpha), np.array(beta)


def _random_cases(seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shapes from 1e-3 to 1e7; Thompson posteriors of users with some evidence; and
    arms sharing a few (scan) or many (sort) distinct posteriors, some pruned."""
    rng = np.random.default_rng(seed)
    for n in [2, 3, 4, 10, 17, 81]:
        for _ in range(30):
            alpha = np.exp(rng.uniform(np.log(1e-3), np.log(1e7), n))
            beta = np.exp(rng.uniform(np.log(0.05), np.log(1e7), n))
            yield alpha, beta
    for _ in range(100):
        n = int(rng.integers(2, 82))
        prior = np.clip(rng.beta(1.5, 20, n), 1e-3, 0.95)
        impressions = rng.multinomial(int(rng.integers(1, 2000)), rng.dirichlet(np.ones(n)))
        successes = rng.binomial(impressions, prior)
        yield _thompson_shapes(prior, 10, impressions.astype(float), successes.astype(float))
    for distinct in [2, 3, 4, 8, 15, 16, 17, 30, 80]:
        for _ in range(8):
            rates = rng.uniform(0.01, 0.3, distinct)
            seen = rng.integers(0, 5000, distinct).astype(float)
            alpha = 10 * rates + np.round(seen * rates)
            beta = 10 * (1 - rates) + seen - np.round(seen * rates)
            which = np.concatenate([np.arange(distinct), rng.integers(0, distinct, 81 - distinct)])
            which = rng.permutation(which)
            yield alpha[which], beta[which]


@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_equals_numpy_on_random_cases(seed: int) -> None:
    for alpha, beta in _random_cases(seed):
        got = beta_race_jit.win_probabilities(alpha, beta)
        want = beta_race.win_probabilities_numpy(alpha, beta)
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= EXACT, (alpha.tolist(), beta.tolist())


def test_kernel_equals_numpy_on_hard_cases() -> None:
    for alpha, beta in _hard_cases():
        got = beta_race_jit.win_probabilities(alpha, beta)
        want = beta_race.win_probabilities_numpy(alpha, beta)
        np.testing.assert_allclose(got, want, rtol=0, atol=EXACT)
        np.testing.assert_array_equal(got == 0, want == 0)  # pruned arms: exactly 0


def test_kernel_takes_lists_integers_and_strided_arrays() -> None:
    alpha = np.arange(1, 21, dtype=np.int64)
    beta = np.arange(40, 0, -1, dtype=float)[::2]
    want = beta_race.win_probabilities_numpy(alpha, beta)
    np.testing.assert_allclose(beta_race_jit.win_probabilities(alpha, beta), want, atol=EXACT)
    got = beta_race_jit.win_probabilities(alpha.tolist(), beta.tolist())  # type: ignore[arg-type]
    np.testing.assert_allclose(got, want, atol=EXACT)
    frozen_a, frozen_b = alpha.astype(float), beta.copy()
    frozen_a.flags.writeable = frozen_b.flags.writeable = False
    got = beta_race_jit.win_probabilities(frozen_a, frozen_b)
    np.testing.assert_allclose(got, want, atol=EXACT)


def test_win_probabilities_uses_the_kernel_where_numba_imports() -> None:
    assert beta_race.prepare()
    assert beta_race._implementation is beta_race_jit.win_probabilities


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_without_numba_the_reference_runs() -> None:
    done = _run(
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np\n"
        "from model.bandit import beta_race\n"
        "assert not beta_race.prepare()\n"
        "p = beta_race.win_probabilities(np.array([2.0, 3.0]), np.array([30.0, 40.0]))\n"
        "assert abs(p.sum() - 1) < 1e-12\n"
    )
    assert done.returncode == 0, done.stderr


def test_a_kernel_that_fails_to_load_falls_back_to_numpy_with_a_warning() -> None:
    done = _run(
        "import sys, warnings; sys.modules['model.bandit.beta_race_jit'] = None\n"
        "from model.bandit import beta_race\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    assert not beta_race.prepare()\n"
        "assert 'numba kernel unavailable' in str(caught[0].message)\n"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_read_only_install_compiles_without_a_cache_silently() -> None:
    """Where numba finds no writable cache directory it refuses ``cache=True``: the
    kernel is then compiled in memory, with nothing on stderr."""
    done = _run(
        "from numba.core import caching\n"
        "def refuse(self): raise PermissionError('read-only')\n"
        "caching._CacheLocator.ensure_cache_path = refuse\n"
        "import numpy as np\n"
        "from model.bandit import beta_race\n"
        "assert beta_race.prepare()\n"
        "from model.bandit import beta_race_jit\n"
        "assert beta_race_jit._race._cache.__class__.__name__ == 'NullCache'\n"
        "a, b = np.array([2.0, 3.0, 3.0]), np.array([30.0, 40.0, 40.0])\n"
        "d = beta_race.win_probabilities(a, b) - beta_race.win_probabilities_numpy(a, b)\n"
        "assert abs(d).max() < 1e-12\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
