"""The serving install works without torch; training says in one line which extra it needs.

Each check runs ``nudge`` in a fresh interpreter whose import system refuses ``torch`` (a
meta-path finder ahead of every other), as an install without ``nudgeflow[train]`` would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streams.apps.cli import TRAIN_EXTRA

REPO = Path(__file__).resolve().parents[2]

# Runs each argv list of sys.argv[2] (JSON) through ``nudge``, torch unimportable, and
# writes their exit statuses and whether torch was ever loaded to sys.argv[1].
RUNNER = """
import importlib.abc, json, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
from streams.apps.cli import main

codes = []
for argv in json.loads(sys.argv[2]):
    try:
        codes.append(main(argv))
    except SystemExit as exc:  # --help
        codes.append(exc.code)
loaded = sorted(m for m in sys.modules if m.partition(".")[0] == "torch")
open(sys.argv[1], "w").write(json.dumps({"codes": codes, "torch": loaded}))
"""


def _without_torch(tmp_path: Path, *argvs: list[str]) -> tuple[dict, str]:
    result = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(result), json.dumps(list(argvs))],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.is_file(), done.stderr[-3000:]
    return json.loads(result.read_text()), done.stderr


def test_serving_commands_run_without_torch(tmp_path: Path) -> None:
    log, out = str(tmp_path / "sim.jsonl"), tmp_path / "out"
    argvs = [
        ["worker", "--help"],
        ["simulate", "--out", log, "--users", "100", "--requests", "300", "--seed", "3", "--quiet"],
        ["replay", log, "--offline", "--quiet"],
        ["evaluate", log, "--bootstrap", "5", "--out-dir", str(out / "evaluate")],
        ["abtest", "--scorer", "segment", "--users", "200", "--sessions", "2",
         "--history", "300", "--out-dir", str(out / "abtest"), "--quiet"],
    ]  # fmt: skip
    found, stderr = _without_torch(tmp_path, *argvs)
    assert found["codes"] == [0] * len(argvs), stderr[-3000:]
    assert found["torch"] == []
    assert (out / "evaluate" / "report.md").is_file()
    assert (out / "abtest" / "result.json").is_file()


def test_training_without_torch_names_the_extra_in_one_line(tmp_path: Path) -> None:
    log = str(tmp_path / "sim.jsonl")
    argvs = [
        ["simulate", "--out", log, "--users", "50", "--requests", "100", "--quiet"],
        ["train", "--input", log, "--model-dir", str(tmp_path / "models")],
        ["abtest", "--scorer", "two-tower", "--users", "100", "--history", "200",
         "--model-dir", str(tmp_path / "empty"), "--out-dir", str(tmp_path / "ab"), "--quiet"],
    ]  # fmt: skip
    found, stderr = _without_torch(tmp_path, *argvs)
    assert found["codes"] == [0, 2, 2], stderr[-3000:]
    lines = [line for line in stderr.splitlines() if TRAIN_EXTRA in line]
    assert len(lines) == 2 and len(stderr.strip().splitlines()) == 2, stderr
    assert lines[0].startswith("nudge: error: nudge train needs torch")
    assert lines[1].startswith("nudge: error: nudge abtest needs torch")
