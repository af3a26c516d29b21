"""Kafka's default partitioner (murmur2), so the worker can check where a key belongs.

The contract co-partitions every user-keyed topic by ``murmur2(key) mod partitions``, the
Java client's default and librdkafka's ``murmur2_random``. librdkafka's own default
(``consistent_random``, CRC32) and kcat's put keys elsewhere: a user's events would then
be split between workers and their state with them.
"""

from __future__ import annotations

__all__ = ["murmur2", "partition_for"]

_SEED, _M, _MASK = 0x9747B28C, 0x5BD1E995, 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 of ``data`` (``org.apache.kafka.common.utils.Utils``),
    as an unsigned int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length - tail
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the contract assigns to ``key``: positive murmur2 mod ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
