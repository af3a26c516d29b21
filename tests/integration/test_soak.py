"""Worker memory under steady traffic with new users arriving: it must plateau.

Requests at a steady rate, three in four from users never seen before; the worker's
resident memory sampled every 10 s. After the warm-up, RSS may grow by less than 10 %.
``make test`` runs it for 5 minutes (2 of warm-up); ``make soak`` (``--soak-seconds 600
--soak-warmup-seconds 120``) runs the 10-minute version.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from streams.runtime.kafka import make_producer
from streams.runtime.settings import Settings
from tests.support import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RATE_PER_SECOND = 300
SAMPLE_SECONDS = 10.0


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def steady_traffic(settings: Settings, stop: threading.Event) -> int:
    producer = make_producer(settings)
    sent, started = 0, time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - started) * RATE_PER_SECOND)
        for _ in range(max(0, due - sent)):
            # three in four are new users: the store keeps growing, memory must not
            user = f"soak-{sent}" if sent % 4 else f"soak-{sent // 97}"
            event = {
                "schema_version": 1,
                "event_id": f"soak-req-{sent}",
                "ts": 1_760_000_000_000 + sent,
                "user_id": user,
                "context": {"age": 20 + sent % 50, "risk_tolerance": 3},
            }
            producer.produce(settings.topic("decision-requests"), key=user, value=json.dumps(event))
            sent += 1
        producer.poll(0)
        time.sleep(0.01)
    producer.flush(30)
    return sent


@pytest.mark.timeout(1800)  # make soak runs 10 minutes, past the suite's default limit
def test_worker_memory_plateaus_under_steady_traffic(
    kafka_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seconds = float(request.config.getoption("--soak-seconds"))
    warmup = float(request.config.getoption("--soak-warmup-seconds"))
    worker = WorkerProcess(kafka_settings, tmp_path / "worker.log").start()
    stop = threading.Event()
    sent: list[int] = []
    driver = threading.Thread(target=lambda: sent.append(steady_traffic(kafka_settings, stop)))
    driver.start()
    curve: list[tuple[float, int]] = []
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            assert worker.process is not None and worker.alive, "the worker died"
            curve.append((elapsed, rss_bytes(worker.process.pid)))
            time.sleep(SAMPLE_SECONDS)
    finally:
        stop.set()
        driver.join(60)
        worker.stop()
    after_warmup = [rss for t, rss in curve if t >= warmup]
    base, end, peak = after_warmup[0], after_warmup[-1], max(after_warmup)
    mib = lambda b: f"{b / 2**20:.0f}"  # noqa: E731
    print(
        f"\nsoak: {sent[0] if sent else '?'} requests in {seconds:g} s; RSS MiB start "
        f"{mib(curve[0][1])}, after warm-up {mib(base)}, peak {mib(peak)}, end {mib(end)}; "
        f"curve (s: MiB) {[(round(t), mib(r)) for t, r in curve]}"
    )
    assert peak < base * 1.10, f"RSS grew {peak / base - 1:.1%} after the warm-up"
