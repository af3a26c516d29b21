"""``nudge broker start`` on a port something else listens on fails at once, saying which
port, before any Java starts (a broker that cannot bind would only die later)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.apps.cli import main
from streams.runtime.broker import free_port


@pytest.mark.parametrize("flag", ["--port", "--controller-port"])
def test_a_taken_port_fails_with_one_line_naming_it(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = ["--controller-port", str(free_port())] if flag == "--port" else []
        argv = ["broker", "start", flag, str(port), *other, "--data-dir", str(tmp_path / "b")]
        assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no address printed: nothing is serving there for us
    err = captured.err.strip()
    assert "\n" not in err and f"port {port}" in err and flag in err, err
    assert not (tmp_path / "b" / "broker.json").exists()
