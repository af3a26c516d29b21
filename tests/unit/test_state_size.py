"""``nudge_state_keys``: exact while small, RocksDB's estimate once large."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rocksdict import Rdict

from streams.runtime.faust_worker import _count_keys


def test_users_are_counted_exactly_when_few_and_estimated_when_many(tmp_path: Path) -> None:
    dbs = {p: Rdict(str(tmp_path / f"p{p}")) for p in range(2)}
    try:
        for i in range(30):
            dbs[i % 2][f"u{i}".encode()] = b"state"
        dbs[0][b"__faust\x00offset__"] = b"7"  # Faust's bookkeeping is not a user
        table = SimpleNamespace(data=SimpleNamespace(_dbs=dbs))
        assert _count_keys(table) == 30
        assert _count_keys(table, exact_below=10) == 31  # estimate: every key, cheaply
    finally:
        for db in dbs.values():
            db.close()
