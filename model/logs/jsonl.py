"""JSON Lines logs: one wire event per line with its ``type`` tag."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import msgspec.inspect

from model.events import (
    LogEvent,
)
from model.logs.common import (
    LogFormatError,
)

_decoder = msgspec.json.Decoder(LogEvent)
_encoder = msgspec.json.Encoder()


def decode_log_line(line: bytes | str) -> LogEvent:
    return _decoder.decode(line)


def encode_log_line(event: LogEvent) -> bytes:
    return _encoder.encode(event)


def read_jsonl(path: str | Path) -> Iterator[LogEvent]:
    """Events of a JSONL log. A last line without its newline is a record still being
    appended by a live writer (the demo, a tailing collector) and is left for next time."""
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip() or not line.endswith(b"\n"):
                continue
            try:
                yield _decoder.decode(line)
            except msgspec.ValidationError as exc:
                raise LogFormatError(f"{path}: line {number}: {exc}") from None
            except msgspec.DecodeError as exc:
                raise LogFormatError(f"{path}: line {number}: not JSON ({exc})") from None


def write_jsonl(path: str | Path, events: Iterable[LogEvent]) -> int:
    """Write ``events`` to ``path``; returns how many were written."""
    count = 0
    with open(path, "wb") as out:
        for event in events:
            out.write(_encoder.encode(event) + b"\n")
            count += 1
    return count
