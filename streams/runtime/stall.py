"""A stalled worker exits so that its supervisor restarts it.

faust-streaming can come out of a rebalance "ready" with its partitions assigned and
then consume nothing (known faust-streaming hangs after a member is killed; seen here
once in the restart-and-SIGKILL test: 334 messages owed for 5 minutes, no error). No
setting brings it back, a restart does. :class:`StallWatch` is a daemon thread, so it
works even when the event loop itself is stuck: when the worker is ready (not rebalancing
or recovering), messages are owed on its partitions and it processed nothing for
``stall_seconds``, it logs one error and ends the process with :data:`STALL_EXIT`. The
state is exact after the restart: it is the same as after a crash (source offsets inside
each user's state make a redelivery change nothing).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

__all__ = ["STALL_EXIT", "StallWatch"]

log = logging.getLogger(__name__)
STALL_EXIT = 70  # EX_SOFTWARE


class StallWatch(threading.Thread):
    """``progress()``: events processed so far; ``owed()``: messages owed on this worker's
    source partitions (the last lag sample); ``ready()``: not rebalancing or recovering."""

    def __init__(
        self,
        progress: Callable[[], int],
        owed: Callable[[], float],
        ready: Callable[[], bool],
        stall_seconds: float = 60.0,
        interval_seconds: float = 5.0,
        on_stall: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="nudge-stall-watch", daemon=True)
        self.progress, self.owed, self.ready = progress, owed, ready
        self.stall_seconds, self.interval_seconds = stall_seconds, interval_seconds
        self.on_stall = on_stall or _exit
        self.clock = clock
        self.stopping = threading.Event()
        self._last: int | None = None
        self._since = clock()

    def check(self) -> str | None:
        """One look: the reason to exit, or None while the worker is fine."""
        now, done = self.clock(), self.progress()
        if done != self._last or not self.ready() or self.owed() <= 0:
            self._last, self._since = done, now
            return None
        if now - self._since < self.stall_seconds:
            return None
        return (
            f"worker stalled: {self.owed():.0f} messages owed on its partitions and nothing "
            f"processed for {now - self._since:.0f} s; exiting ({STALL_EXIT}) to be restarted"
        )

    def run(self) -> None:
        while not self.stopping.wait(self.interval_seconds):
            reason = self.check()
            if reason is not None:
                self.on_stall(reason)
                return


def _exit(reason: str) -> None:
    log.error(reason)
    logging.shutdown()
    os._exit(STALL_EXIT)
