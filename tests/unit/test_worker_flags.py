"""Every setting of ``nudge worker`` has a flag, a ``NUDGE_*`` variable and a help line
that names its choices and its default (the SASL password alone has no flag: a command
line is visible in ``ps``)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest

from model.bandit import POLICIES
from streams.apps.cli import build_parser
from streams.apps.commands._common import settings_from
from streams.runtime.settings import (
    ENGINES,
    LOG_LEVELS,
    PROCESSING_GUARANTEES,
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    Settings,
)

NO_FLAG = {"sasl_password"}
CHOICES = {
    "policy": tuple(POLICIES),
    "engine": ENGINES,
    "log_level": LOG_LEVELS,
    "log_format": ("text", "json"),
    "processing_guarantee": PROCESSING_GUARANTEES,
    "security_protocol": SECURITY_PROTOCOLS,
    "sasl_mechanism": SASL_MECHANISMS,
}


def worker_parser() -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["worker"]


def worker_actions() -> dict[str, argparse.Action]:
    return {action.dest: action for action in worker_parser()._actions}


@pytest.mark.parametrize("name", [f.name for f in fields(Settings) if f.name not in NO_FLAG])
def test_every_setting_has_a_flag_a_variable_and_its_default_in_help(name: str) -> None:
    action = worker_actions().get(name)
    assert action is not None, f"nudge worker has no flag for {name}"
    text = " ".join(str(action.help).split())
    assert f"NUDGE_{name.upper()}" in text, text
    assert "default " in text, text
    for choice in CHOICES.get(name, ()):
        assert choice in text, f"{name}: {choice} missing from {text!r}"


def test_model_dir_has_a_flag_and_the_help_names_its_variable(tmp_path: Path) -> None:
    help_text = " ".join(worker_parser().format_help().split())
    assert "--model-dir" in help_text and "NUDGE_MODEL_DIR" in help_text
    args = worker_parser().parse_args(["--model-dir", str(tmp_path), "--policy", "ucb1"])
    settings = settings_from(args, env={"NUDGE_MODEL_DIR": "/elsewhere"})
    assert settings.model_dir == tmp_path and settings.policy == "ucb1"  # flags win
    assert settings_from(worker_parser().parse_args([]), env={}).model_dir == Settings().model_dir
