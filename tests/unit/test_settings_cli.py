"""Settings from env and flags; the CLI's help and its one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.apps.cli import build_parser, main
from streams.runtime.settings import Settings, SettingsError


def test_environment_then_flags_override_defaults() -> None:
    env = {"NUDGE_PARTITIONS": "8", "NUDGE_TOPIC_PREFIX": "x.", "NUDGE_POLICY_PARAMS": '{"a": 1}'}
    settings = Settings.from_env(env, partitions=2)
    assert settings.partitions == 2
    assert settings.topic("decisions") == "x.decisions"
    assert settings.policy_params == {"a": 1}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NUDGE_PARTITIONS": "many"}, "NUDGE_PARTITIONS"),
        ({"NUDGE_PARTITIONS": "0"}, "NUDGE_PARTITIONS"),
        ({"NUDGE_METRICS_PORT": "70000"}, "NUDGE_METRICS_PORT"),
        ({"NUDGE_POLICY_PARAMS": "[1]"}, "NUDGE_POLICY_PARAMS"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_every_command_has_help() -> None:
    parser = build_parser()
    text = parser.format_help()
    for command in ("broker", "topics", "worker", "catalog", "state", "demo"):
        assert command in text


def test_bad_catalog_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text('{"products": [{"product_id": "p"}]}')
    assert main(["catalog", "--catalog", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nudge: error:") and "\n" not in err


def test_bad_environment_exits_2_from_a_real_process() -> None:
    env = {"NUDGE_PARTITIONS": "lots", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "streams.apps.cli", "topics", "create"],
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "NUDGE_PARTITIONS" in done.stderr


def test_catalog_prints_every_arm(capsys: pytest.CaptureFixture) -> None:
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    assert "81 arms" in out and "savings_plan:loss_aversion" in out


def test_to_env_round_trips_through_from_env(tmp_path: Path) -> None:
    settings = Settings(
        partitions=7,
        state_dir=tmp_path / "s",
        catalog_path=tmp_path / "c.json",
        half_life_seconds=3600.0,
        policy_params={"epsilon": 0.2},
        guardrails={"max_nudges": 3},
    )
    assert Settings.from_env(settings.to_env()) == settings
    assert "NUDGE_HALF_LIFE_SECONDS" not in Settings().to_env()  # None stays unset


@pytest.mark.parametrize(
    "command",
    [
        ["topics", "create"],
        ["replay", "LOG", "--into", "kafka", "--quiet"],
        ["simulate", "--live", "--duration", "5"],
        ["train", "--from-kafka"],
        ["state", "show", "u1", "--source", "changelog"],
        ["abtest", "--through", "kafka", "--users", "10", "--quiet"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_kafka_commands_fail_fast_with_one_line_when_no_broker_answers(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from streams.runtime.broker import free_port

    log = tmp_path / "log.jsonl"
    log.write_text("")
    args = [str(log) if a == "LOG" else a for a in command]
    address = f"127.0.0.1:{free_port()}"  # nothing listens there: connections are refused
    assert main([*args, "--bootstrap-servers", address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"nudge: error: no Kafka broker at {address}"), err


def test_a_bad_flag_is_named_as_the_flag_a_bad_variable_as_the_variable(
    capsys: pytest.CaptureFixture,
) -> None:
    assert main(["topics", "create", "--partitions", "0"]) == 2
    assert capsys.readouterr().err.strip() == "nudge: error: --partitions must be >= 1, got 0"
    parser = build_parser()
    from streams.apps.commands._common import settings_from

    args = parser.parse_args(["topics", "create"])
    with pytest.raises(SettingsError, match="^NUDGE_PARTITIONS must be >= 1"):
        settings_from(args, env={"NUDGE_PARTITIONS": "0"})


def test_client_properties_override_the_workers_defaults_but_not_the_contract() -> None:
    from streams.runtime.quix_worker import consumer_extra_config, producer_extra_config

    default = Settings()
    assert producer_extra_config(default)["linger.ms"] == 5
    assert consumer_extra_config(default)["fetch.min.bytes"] == 64 * 1024
    env = {
        "NUDGE_PRODUCER_CONFIG": '{"linger.ms": 0, "compression.type": "lz4"}',
        "NUDGE_CONSUMER_CONFIG": '{"fetch.wait.max.ms": 1}',
    }
    tuned = Settings.from_env(env)
    producer = producer_extra_config(tuned)
    assert producer["linger.ms"] == 0 and producer["compression.type"] == "lz4"
    assert producer["partitioner"] == "murmur2_random"  # the contract's, always
    assert consumer_extra_config(tuned)["fetch.wait.max.ms"] == 1
    assert Settings.from_env(tuned.to_env()).producer_config == tuned.producer_config


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"NUDGE_PRODUCER_CONFIG": '{"partitioner": "random"}'},
            "NUDGE_PRODUCER_CONFIG: 'partitioner'",
        ),
        (
            {"NUDGE_CONSUMER_CONFIG": '{"sasl.password": "x"}'},
            "NUDGE_CONSUMER_CONFIG: 'sasl.password'",
        ),
        ({"NUDGE_CONSUMER_CONFIG": '{"group.id": "other"}'}, "'group.id' is not settable"),
        ({"NUDGE_PRODUCER_CONFIG": '{"linger.ms": [1]}'}, "must be a string, number or boolean"),
        ({"NUDGE_PRODUCER_CONFIG": '{"linger.ms": 0}', "NUDGE_ENGINE": "faust"}, "quix engine"),
    ],
)
def test_client_properties_that_would_break_the_worker_are_refused(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
