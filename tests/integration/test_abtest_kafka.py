"""``nudge abtest --through kafka``: both groups through the real broker and real workers
give, user by user, what the offline runner gives, and nudgeflow beats the rules."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from streams.apps.cli import main
from streams.runtime.settings import Settings

pytestmark = pytest.mark.integration


def _sessions(out: Path) -> list[dict[str, str]]:
    with open(out / "sessions.csv", newline="") as rows:
        return list(csv.DictReader(rows))


def test_abtest_through_kafka_equals_offline_and_is_significant(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    common = [
        "abtest", "--users", "5000", "--sessions", "2", "--history", "30000", "--seed", "5",
        "--scorer", "two-tower", "--model-dir", str(tmp_path / "model"), "--quiet",
    ]  # fmt: skip
    assert main([*common, "--out-dir", str(tmp_path / "offline")]) == 0
    kafka = [
        "--through", "kafka", "--bootstrap-servers", kafka_settings.bootstrap_servers,
        "--topic-prefix", kafka_settings.topic_prefix, "--out-dir", str(tmp_path / "kafka"),
    ]  # fmt: skip
    assert main([*common, *kafka]) == 0

    offline, through_kafka = _sessions(tmp_path / "offline"), _sessions(tmp_path / "kafka")
    assert len(through_kafka) == 5000 * 2
    assert through_kafka == offline  # same arm and purchase for every user and session
    assert all(row["arm_id"] for row in through_kafka)  # every request got a nudge
    # the users' state carried over: B's second sessions are not all the first ones again
    second = {r["user_id"]: r["arm_id"] for r in through_kafka if r["session"] == "1"}
    first = {r["user_id"]: r["arm_id"] for r in through_kafka if r["session"] == "0"}
    assert sum(first[u] != second[u] for u in first) > 0

    result = json.loads((tmp_path / "kafka" / "result.json").read_text())
    assert result["through"] == "kafka" and result["n_a"] + result["n_b"] == 5000
    assert result == {
        **json.loads((tmp_path / "offline" / "result.json").read_text()),
        "through": "kafka",
    }
    assert result["rate_b"] > result["rate_a"] and result["p_value"] < 0.001
    report = (tmp_path / "kafka" / "report.md").read_text()
    version = next((tmp_path / "model").iterdir()).name
    assert f"group B decisions served by: 5000 x epsilon-greedy {version}" in report
    assert "group A decisions served by: 5000 x rule-based" in report
    assert (tmp_path / "kafka" / "cr.png").stat().st_size > 0
    assert _left_behind(kafka_settings) == []  # the run's topics were deleted after it


def _left_behind(settings: Settings) -> list[str]:
    """The run's topics still listed, after giving the deletion a few seconds."""
    from streams.runtime.kafka import make_admin

    admin = make_admin(settings)
    for _ in range(20):
        left = [t for t in admin.list_topics(timeout=10).topics if "abtest-" in t]
        if not left:
            break
        time.sleep(0.5)
    return left
