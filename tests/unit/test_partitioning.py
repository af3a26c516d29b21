"""murmur2 as Kafka computes it (the vectors of Kafka's own UtilsTest)."""

from __future__ import annotations

import pytest

from streams.runtime.partitioning import murmur2, partition_for

KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "signed"), KAFKA_VECTORS.items())
def test_murmur2_equals_kafkas(data: bytes, signed: int) -> None:
    assert murmur2(data) == signed & 0xFFFFFFFF


def test_partition_is_the_positive_hash_mod_the_count() -> None:
    assert partition_for(b"21", 4) == (-973932308 & 0x7FFFFFFF) % 4
    assert {partition_for(f"user-{i}".encode(), 4) for i in range(100)} == {0, 1, 2, 3}
