"""The built wheel, installed into a fresh virtualenv outside the repository, runs
``nudge broker start``: the broker's pom and log4j2 configuration travel as package data.

The install is the serving one (no ``nudgeflow[train]``): torch stays out, and the test
prints the venv's size. Dependencies come from PyPI (pip's cache makes a second run fast);
the Kafka jars from Maven (``~/.m2``) into the install's own cache under a private HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.apps.cli import TRAIN_EXTRA
from streams.runtime.broker import free_port

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def _wheel(where: Path) -> Path:
    """The wheel of this checkout's files (tracked or not, less the ignored), built from a
    copy so no build output lands in the checkout; setuptools of the running venv."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    source = where / "src"
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation"]
    _run([*pip, "-q", "-w", str(where / "dist")], env=_clean())
    (wheel,) = (where / "dist").glob("nudgeflow-*.whl")
    return wheel


def _clean() -> dict[str, str]:
    """This environment less PYTHON* and NUDGE_* (no path back into the checkout)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NUDGE_"))}


def _size_mib(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) // 2**20


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the repo) holding the wheel and its dependencies; its bin."""
    where = tmp_path_factory.mktemp("wheel")
    wheel = _wheel(where)
    venv = where / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=_clean())
    pip = [
        str(venv / "bin" / "pip"),
        "install",
        "-q",
        "--disable-pip-version-check",
        "--no-compile",
    ]
    _run([*pip, str(wheel)], env=_clean(), cwd=where)
    print(f"\nserving install (no {TRAIN_EXTRA}): {_size_mib(venv)} MiB in {venv}")
    return venv / "bin"


def _outside(bin_dir: Path, tmp_path: Path) -> dict[str, str]:
    """An environment that cannot see the checkout: no PYTHONPATH, a private HOME."""
    env = _clean()
    return env | {"HOME": str(tmp_path / "home"), "PATH": f"{bin_dir}:{env['PATH']}"}


def test_the_installed_package_is_not_the_checkout_and_has_no_torch(
    installed: Path, tmp_path: Path
) -> None:
    code = "import streams, importlib.util as u; print(streams.__file__, u.find_spec('torch'))"
    done = _run(
        [str(installed / "python"), "-c", code], cwd=tmp_path, env=_outside(installed, tmp_path)
    )
    where, torch = done.stdout.split()
    assert "site-packages" in where and not where.startswith(str(REPO)) and torch == "None"


def test_broker_starts_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("needs Java and Maven")
    env, port = _outside(installed, tmp_path), free_port()
    nudge = [str(installed / "nudge"), "broker"]
    data = ["--data-dir", str(tmp_path / "broker")]
    try:
        started = _run([*nudge, "start", "--port", str(port), *data], cwd=tmp_path, env=env)
        assert started.stdout.strip().endswith(f"127.0.0.1:{port}")
        jars = tmp_path / "home" / ".cache" / "nudgeflow" / "kafka" / "libs"
        assert any(jars.glob("kafka_2.13-*.jar")), "jars not in the install's cache"
        assert (tmp_path / "broker" / "broker.log").is_file()  # the packaged log4j2 config
    finally:
        subprocess.run([*nudge, "stop", *data], cwd=tmp_path, env=env, timeout=60)


def test_training_in_the_serving_install_names_the_extra(installed: Path, tmp_path: Path) -> None:
    env = _outside(installed, tmp_path)
    log = str(tmp_path / "sim.jsonl")
    nudge = str(installed / "nudge")
    _run(
        [nudge, "simulate", "--out", log, "--users", "50", "--requests", "100", "--quiet"],
        cwd=tmp_path,
        env=env,
    )
    done = subprocess.run(
        [nudge, "train", "--input", log, "--model-dir", str(tmp_path / "m")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"nudge: error: nudge train needs torch, which this install lacks: pip install "
        f"'{TRAIN_EXTRA}'"
    )
