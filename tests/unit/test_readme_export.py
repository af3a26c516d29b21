"""README 'Log format': the impression-level mapping shown is the example file, and the
commands shown print the report shown, line for line."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from bench.logs import write_bandit_export
from streams.apps.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "examples" / "impression-columns.json"


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Log format (replay, training, evaluation)", 1)[1]
    return section.split("\n## ", 1)[0].split("**An impression-level export**", 1)[1]


def test_the_readme_mapping_is_the_example_file() -> None:
    shown = re.search(r"^```json\n(.*?)^```", _section(), re.S | re.M)
    assert shown, "README 'Log format' lost its impression-level mapping"
    example = json.loads(EXAMPLE.read_text())
    example.pop("description")
    assert json.loads(shown.group(1)) == example


def test_the_readme_commands_print_the_readme_report(tmp_path, monkeypatch, capsys) -> None:
    blocks = re.findall(r"^```\w*\n(.*?)^```", _section(), re.S | re.M)
    commands = next(b for b in blocks if "nudge evaluate" in b).strip().splitlines()
    report = next(b for b in blocks if b.startswith("log export.csv"))
    assert "write_bandit_export('export.csv', 3000, 'random')" in commands[0]
    monkeypatch.chdir(tmp_path)
    write_bandit_export("export.csv", 3000, "random")
    argv = shlex.split(commands[1])
    assert argv[:2] == ["nudge", "evaluate"]
    argv[argv.index("--columns") + 1] = str(ROOT / argv[argv.index("--columns") + 1])
    assert main(argv[1:]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("report: evaluation-report/report.md")
    assert "\n".join(printed[:-1]) + "\n" == report
