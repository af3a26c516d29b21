"""Hash-derived draws: reproducible per key, uniform, and usable wherever a generator is."""

from __future__ import annotations

import hashlib
import math
import struct

import numpy as np
import pytest

from model.bandit import HashDraws, build_policy
from model.engine import rng_for
from state import ArmStats

N = 40_000


def test_the_same_key_gives_the_same_draws_and_other_keys_differ() -> None:
    first, again, other = HashDraws(b"r-1"), HashDraws(b"r-1"), HashDraws(b"r-2")
    draws = [first.random() for _ in range(20)]  # crosses a 64-byte block boundary
    assert draws == [again.random() for _ in range(20)]
    assert draws != [other.random() for _ in range(20)]


def test_random_is_uniform_on_the_unit_interval() -> None:
    u = np.array([rng_for(f"r{i}").random() for i in range(N)])
    assert u.min() >= 0.0 and u.max() < 1.0
    # 6 standard errors: a correct generator fails this about once in 10**9 runs
    assert abs(u.mean() - 0.5) < 6 * math.sqrt(1 / 12 / N)
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    chi2 = float(((counts - N / 10) ** 2 / (N / 10)).sum())
    assert chi2 < 40.0  # 9 degrees of freedom: P(chi2 > 40) is about 1e-5


@pytest.mark.parametrize("n", [1, 2, 3, 81, 2**63 + 1])
def test_integers_stay_in_range(n: int) -> None:
    draws = [rng_for(f"r{i}").integers(n) for i in range(2_000)]
    assert all(0 <= d < n for d in draws)


def test_integers_are_uniform() -> None:
    n = 7
    counts = np.bincount([rng_for(f"r{i}").integers(n) for i in range(N)], minlength=n)
    chi2 = float(((counts - N / n) ** 2 / (N / n)).sum())
    assert chi2 < 33.0  # 6 degrees of freedom: P(chi2 > 33) is about 1e-5


def test_successive_draws_of_one_key_are_uncorrelated() -> None:
    pairs = np.array([(d.random(), d.random()) for d in (rng_for(f"r{i}") for i in range(N))])
    r = np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]
    assert abs(r) < 6 / math.sqrt(N)


def test_integers_reject_an_empty_range() -> None:
    with pytest.raises(ValueError):
        HashDraws(b"x").integers(0)


def test_policies_accept_hash_draws_and_numpy_generators_alike() -> None:
    stats = [ArmStats()] * 3
    scores = np.array([0.1, 0.2, 0.3])
    for name in ("thompson", "epsilon-greedy", "ucb1", "uniform", "randomized-slice"):
        policy = build_policy(name)
        for rng in (rng_for("r"), np.random.default_rng(0)):
            choice = policy.choose(stats, scores, ["a", "b", "c"], rng)
            assert 0 <= choice.index < 3 and 0 < choice.propensity <= 1


def test_the_words_are_the_documented_blake2b_blocks() -> None:
    """Pins the scheme: a change would move every seeded decision."""
    draws = HashDraws(b"abc")
    expected = [
        word
        for block in range(3)
        for word in struct.unpack(
            "<8Q",
            hashlib.blake2b(b"abc", digest_size=64, salt=block.to_bytes(16, "little")).digest(),
        )
    ]
    assert [draws.word() for _ in range(20)] == expected[:20]
