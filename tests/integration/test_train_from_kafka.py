"""``nudge train --from-kafka --every``: trains on the contract's topics of the real broker
what ``--input`` trains on the same events, announces it, and serves its own /metrics."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import msgspec
import pytest

from model.logs import write_log
from model.simulator import Environment, UniformLogging, rounds_to_events, simulate_rounds
from streams.apps.cli import main
from streams.runtime.broker import free_port
from streams.runtime.kafka import read_topic
from streams.runtime.settings import Settings
from tests.support import produce_json, scrape, settings_env

pytestmark = pytest.mark.integration
TOPIC_OF = {
    "decision-request": "decision-requests",
    "decision": "decisions",
    "impression": "impressions",
    "conversion": "conversions",
}


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_round(lines: queue.Queue[str]) -> dict[str, object]:
    while True:
        line = lines.get(timeout=120)
        if line.startswith("{"):
            return dict(json.loads(line))


def test_train_from_kafka_equals_train_from_the_log_and_serves_metrics(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    env = Environment.build(1500, seed=3)
    events = list(rounds_to_events(env, simulate_rounds(env, UniformLogging(), 6000, seed=3)))
    log = tmp_path / "log.jsonl"
    write_log(log, events)
    encode = msgspec.json.Encoder().encode
    for tag, kind in TOPIC_OF.items():
        mine = [e for e in events if type(e).__struct_config__.tag == tag]
        produce_json(kafka_settings, kind, [(e.user_id.encode(), encode(e)) for e in mine])
    produce_json(kafka_settings, "decision-requests", [(b"u1", b"not json"), (b"u2", b"{}")])

    port = free_port()
    trainer = subprocess.Popen(
        [sys.executable, "-m", "streams.apps.cli", "train", "--from-kafka", "--every", "3s",
         "--metrics-port", str(port), "--model-dir", str(tmp_path / "from-kafka"),
         "--no-progress"],
        env=settings_env(kafka_settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        lines = _lines(trainer)
        first = _next_round(lines)
        assert first["outcome"] == "published", first
        second = _next_round(lines)  # nothing new on the topics since the first round
        assert second["outcome"] == "skipped", second
        metrics = scrape(port)
    finally:
        trainer.terminate()
        trainer.wait(30)
    assert f'nudge_training_published_model_info{{version="{first["version"]}"}} 1.0' in metrics
    assert 'nudge_training_rounds_total{outcome="published"} 1.0' in metrics
    assert 'nudge_training_rounds_total{outcome="skipped"}' in metrics
    assert "process_resident_memory_bytes" in metrics
    # its own metrics only: no worker series (as zeros) for dashboards to mistake for one
    for worker_series in ("nudge_events_consumed_total", "nudge_model_info", "nudge_state_keys"):
        assert worker_series not in metrics
    announced = [
        json.loads(m.value())
        for m in read_topic(kafka_settings, kafka_settings.topic("model-updates"), expect=1)
    ]
    assert [a["version"] for a in announced] == [first["version"]]

    file_dir = tmp_path / "from-file"
    assert main(["train", "--input", str(log), "--model-dir", str(file_dir), "--no-progress"]) == 0
    from_file = next(file_dir.iterdir())
    from_kafka = Path(str(first["path"]))
    data = json.loads((from_kafka / "data.json").read_text())
    assert data == json.loads((from_file / "data.json").read_text())
    assert data["examples"] + int(first["held_out"]) == 6000  # a decision, an example
    auc_kafka = json.loads((from_kafka / "metrics.json").read_text())["auc"]
    auc_file = json.loads((from_file / "metrics.json").read_text())["auc"]
    assert auc_kafka == pytest.approx(auc_file, abs=1e-9) and auc_kafka > 0.6
