"""The Kafka side of ``nudge train``: read the event topics, announce a published model.

The round itself is pure and lives in :mod:`model.training`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from model.events import Decision, LogEvent
from streams.runtime.settings import Settings

__all__ = ["announce", "read_topic_events", "run_every"]

log = logging.getLogger(__name__)


def read_topic_events(settings: Settings) -> list[LogEvent]:
    """Every decoded event of the requests, decisions, impressions and conversions topics,
    from the beginning to their ends as of now (filter by time with
    :func:`model.training.events_in_window`). Undecodable messages are skipped: the
    worker dead-letters them already."""
    from streams.runtime.kafka import read_to_end
    from streams.runtime.schemas import Rejection, decode_event

    events: list[LogEvent] = []
    decisions = msgspec.json.Decoder(Decision)
    for kind in ("decision-requests", "decisions", "impressions", "conversions"):
        topic = settings.topic(kind)
        for message in read_to_end(settings, topic):
            if kind == "decisions":
                try:
                    events.append(decisions.decode(message.value()))
                except msgspec.MsgspecError:
                    continue
                continue
            event = decode_event(kind, message.value(), message.key(), settings.max_event_bytes)
            if not isinstance(event, Rejection):
                events.append(event)
    return events


def announce(settings: Settings, message: Mapping[str, Any]) -> None:
    """Produce ``message`` (JSON) to the model-updates topic and wait for delivery."""
    from streams.runtime.kafka import make_producer

    producer = make_producer(settings)
    payload = json.dumps(message, allow_nan=False, default=str).encode()
    producer.produce(settings.topic("model-updates"), key=b"model", value=payload)
    if producer.flush(30) != 0:
        raise OSError("model update not delivered within 30 s")


def run_every(
    interval_seconds: float,
    round_: Callable[[], object],
    *,
    iterations: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call ``round_`` every ``interval_seconds`` (``iterations=0``: until interrupted). A
    failing round is logged and the next one runs: the serving model stays as it is."""
    done = 0
    while iterations == 0 or done < iterations:
        started = time.monotonic()
        try:
            round_()
        except Exception:  # a scheduler must outlive one bad round (bad data, broker down)
            log.exception("training round failed; the serving model stays")
        done += 1
        if iterations == 0 or done < iterations:
            sleep(max(0.0, interval_seconds - (time.monotonic() - started)))
