"""Seeded uniform draws for one decision, derived from a hash of the request's id.

Every policy takes its randomness through :class:`Draws` (``random()`` and
``integers(n)``), which ``numpy.random.Generator`` satisfies, so tests and simulations
can pass a generator. The worker passes :class:`HashDraws` instead: building a numpy
generator per request (seed hashing, bit-generator setup) cost 15-30 us, more than a
whole epsilon-greedy decision should.

Scheme (counter-based, as in Salmon et al.'s Philox/Threefry, with BLAKE2b as the
keyed function): block ``k`` of 64 bytes is ``blake2b(key, digest_size=64,
salt=k)``, read as eight 64-bit words, consumed in order. BLAKE2b is a
pseudo-random function, so the words of distinct keys and blocks are independent and
uniform for any statistical purpose. ``random()`` is the top 53 bits of a word times
2**-53 (uniform on the float grid of [0, 1), as numpy's ``random()``); ``integers(n)``
is Lemire's multiply-shift with rejection, exactly uniform on ``0..n-1``. The same key
always gives the same draws: a redelivered request draws the same arm and propensity.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Protocol

__all__ = ["Draws", "HashDraws"]

_BLOCK_WORDS = 8
_MASK64 = (1 << 64) - 1
_INV53 = 2.0**-53
_unpack_words = struct.Struct(f"<{_BLOCK_WORDS}Q").unpack


class Draws(Protocol):
    """The uniform draws a policy may take (``numpy.random.Generator`` has both)."""

    def random(self) -> float: ...

    def integers(self, low: int, /) -> int: ...  # uniform on 0 .. low - 1, as numpy's


class HashDraws:
    """Draws from BLAKE2b blocks of ``key`` (see the module docstring)."""

    __slots__ = ("_block", "_key", "_next", "_words")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._block = 0
        self._next = 0
        # block 0 without a salt argument: the default salt is zeros, i.e. salt=0
        self._words = _unpack_words(hashlib.blake2b(key, digest_size=64).digest())

    def word(self) -> int:
        """The next uniform 64-bit word."""
        i = self._next
        if i == _BLOCK_WORDS:
            self._block += 1
            salt = self._block.to_bytes(16, "little")
            digest = hashlib.blake2b(self._key, digest_size=64, salt=salt).digest()
            self._words, i = _unpack_words(digest), 0
        self._next = i + 1
        return self._words[i]

    def random(self) -> float:
        """Uniform on [0, 1): 53 random bits, like ``numpy.random.Generator.random``."""
        return (self.word() >> 11) * _INV53

    def integers(self, low: int, /) -> int:
        """Uniform on ``0 .. low - 1`` (Lemire 2019: multiply-shift, rejecting the few
        products that would bias the result)."""
        n = low
        if n < 1:
            raise ValueError(f"integers needs n >= 1, got {n}")
        product = self.word() * n
        if product & _MASK64 < n:  # rare: only then can the product land in the bias zone
            threshold = (-n & _MASK64) % n
            while product & _MASK64 < threshold:
                product = self.word() * n
        return product >> 64
