"""The event log format shared by replay, training and evaluation.

A log is JSON Lines: one wire-contract event per line (DESIGN §3) plus a ``type`` field
naming its kind: ``decision-request``, ``decision``, ``impression`` or ``conversion``.
Events of every kind keep their ``event_id`` so a repeated replay is recognised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from model.events import LogEvent

__all__ = ["LogFormatError", "decode_log_line", "encode_log_line", "read_jsonl", "write_jsonl"]

_decoder = msgspec.json.Decoder(LogEvent)
_encoder = msgspec.json.Encoder()


class LogFormatError(ValueError):
    """A log line is not a valid event; the message names the line."""


def decode_log_line(line: bytes | str) -> LogEvent:
    return _decoder.decode(line)


def encode_log_line(event: LogEvent) -> bytes:
    return _encoder.encode(event)


def read_jsonl(path: str | Path) -> Iterator[LogEvent]:
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield _decoder.decode(line)
            except msgspec.ValidationError as exc:
                raise LogFormatError(f"{path}:{number}: {exc}") from None
            except msgspec.DecodeError as exc:
                raise LogFormatError(f"{path}:{number}: not JSON ({exc})") from None


def write_jsonl(path: str | Path, events: Iterable[LogEvent]) -> int:
    """Write ``events`` to ``path``; returns how many were written."""
    count = 0
    with open(path, "wb") as out:
        for event in events:
            out.write(_encoder.encode(event) + b"\n")
            count += 1
    return count
