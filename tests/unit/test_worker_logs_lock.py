"""Worker logging (repeats folded, JSON lines) and the state-directory lock."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from streams.runtime.logs import JsonFormatter, RepeatSummary
from streams.runtime.worker import StateDirBusy, lock_state_dir


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("kafka", level, __file__, 1, msg, None, None)


def test_repeats_are_held_back_and_counted_on_the_next_line_let_through() -> None:
    clock = FakeClock()
    summary = RepeatSummary(interval_seconds=30, clock=clock)
    assert summary.filter(record("broker down"))
    passed = 0
    for second in range(1, 30):
        clock.now = second
        passed += summary.filter(record("broker down"))
    assert passed == 0
    assert summary.filter(record("another error"))  # a different kind is not held back
    clock.now = 31
    again = record("broker down")
    assert summary.filter(again)
    assert again.getMessage() == "broker down [and 29 more like it in the last 31 s]"


def test_json_lines_carry_level_logger_and_message() -> None:
    line = JsonFormatter().format(record("partition %d lost", logging.WARNING))
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "kafka"
    assert entry["message"] == "partition %d lost"


def test_a_second_worker_on_a_busy_state_dir_is_refused(tmp_path: Path) -> None:
    held = lock_state_dir(tmp_path)
    try:
        other = subprocess.run(
            [sys.executable, "-c", f"from streams.runtime.worker import lock_state_dir; "
             f"lock_state_dir(__import__('pathlib').Path({str(tmp_path)!r}))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert other.returncode != 0
        assert "is in use by worker pid" in other.stderr and str(tmp_path) in other.stderr
    finally:
        held.close()
    lock_state_dir(tmp_path).close()  # free again once the holder is gone


def test_the_lock_is_per_process_not_per_call(tmp_path: Path) -> None:
    held = lock_state_dir(tmp_path)
    with pytest.raises(StateDirBusy, match="own --state-dir"):
        lock_state_dir(tmp_path)  # flock: a second open file description conflicts too
    held.close()
