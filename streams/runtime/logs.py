"""Worker logging: quiet by default, repeated errors summarised, JSON for log shippers.

A broker outage makes Kafka clients report the same failure many times a second; one
line per occurrence buries everything else. :class:`RepeatSummary` lets the first record
of each kind (logger, level, message template) through per ``interval_seconds`` and then
says how many it held back.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["LOG_FORMATS", "JsonFormatter", "RepeatSummary", "configure_logging"]

LOG_FORMATS = ("text", "json")
_TEXT = "[%(asctime)s] [%(levelname)s] %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RepeatSummary(logging.Filter):
    """Pass the first record of a kind per interval; fold the rest into a count that is
    reported with the next record of that kind let through."""

    def __init__(self, interval_seconds: float = 30.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.interval_seconds, self.clock = interval_seconds, clock
        self._kinds: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        opened, held = self._kinds.get(kind, (float("-inf"), 0))
        if now - opened < self.interval_seconds:
            self._kinds[kind] = (opened, held + 1)
            return False
        self._kinds[kind] = (now, 0)
        if held:
            record.msg = f"{record.msg} [and {held} more like it in the last {now - opened:.0f} s]"
        return True


def configure_logging(level: str, log_format: str = "text") -> None:
    """Root logging for a worker process (stderr), replacing earlier handlers."""
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatSummary())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
