"""Stores of encoded user state: in memory (tests, offline replay) and RocksDB (rocksdict)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from state.codec import decode_state, encode_state
from state.stats import UserState

__all__ = ["InMemoryStore", "RocksStore", "UserStore"]


class UserStore(Protocol):
    """Encoded user states by ``user_id``; ``get``/``put`` decode and encode on the way."""

    def get(self, user_id: str) -> UserState: ...
    def put(self, user_id: str, state: UserState) -> None: ...
    def get_bytes(self, user_id: str) -> bytes | None: ...
    def put_bytes(self, user_id: str, data: bytes) -> None: ...
    def users(self) -> Iterator[str]: ...
    def close(self) -> None: ...


class InMemoryStore:
    """Keeps encoded bytes, so the codec is exercised exactly as in RocksDB."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def get(self, user_id: str) -> UserState:
        return decode_state(self._data.get(user_id))

    def put(self, user_id: str, state: UserState) -> None:
        self._data[user_id] = encode_state(state)

    def get_bytes(self, user_id: str) -> bytes | None:
        return self._data.get(user_id)

    def put_bytes(self, user_id: str, data: bytes) -> None:
        self._data[user_id] = data

    def users(self) -> Iterator[str]:
        return iter(sorted(self._data))

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._data)


class RocksStore:
    """One RocksDB database of ``user_id -> encoded UserState``.

    Writes skip the WAL only when ``durable=False`` (bulk backfills that can be redone).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, durable: bool = True):
        from rocksdict import AccessType, Options, Rdict, WriteOptions

        access = AccessType.read_only() if read_only else AccessType.read_write()
        self._db = Rdict(str(path), options=Options(raw_mode=True), access_type=access)
        self._write_options = WriteOptions()
        # a property at run time; the stub declares a method
        self._write_options.disable_wal = not durable  # type: ignore[method-assign,assignment]

    def get(self, user_id: str) -> UserState:
        return decode_state(self._db.get(user_id.encode()))

    def __contains__(self, user_id: object) -> bool:
        return isinstance(user_id, str) and self._db.get(user_id.encode()) is not None

    def put(self, user_id: str, state: UserState) -> None:
        self.put_bytes(user_id, encode_state(state))

    def get_bytes(self, user_id: str) -> bytes | None:
        data = self._db.get(user_id.encode())
        return bytes(data) if data is not None else None

    def put_bytes(self, user_id: str, data: bytes) -> None:
        self._db.put(user_id.encode(), data, self._write_options)

    def users(self) -> Iterator[str]:
        for key in self._db.keys():  # noqa: SIM118 (an Rdict, not a dict)
            yield bytes(key).decode()  # type: ignore[arg-type]  # raw mode: keys are bytes

    def close(self) -> None:
        self._db.close()
