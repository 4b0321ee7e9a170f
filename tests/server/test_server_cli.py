"""``privtrak serve`` and ``privtrak load`` on the command line: exit statuses
by the project's conventions, and a real start and SIGINT stop."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from e2e_swarm import ServerProcess, write_config


def privtrak(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "privtrak", *args], capture_output=True,
                          text=True, timeout=60, check=False, cwd=cwd)


def test_impossible_command_lines_exit_3() -> None:
    proc = privtrak("serve", "--addr", "nowhere")
    assert proc.returncode == 3 and "--addr='nowhere'" in proc.stderr
    proc = privtrak("load", "http://10.0.0.1:6969", "--rate", "5", "--duration", "1")
    assert proc.returncode == 3 and "--allow-remote" in proc.stderr
    assert privtrak("load", "http://127.0.0.1:1", "--rate", "5").returncode == 3


def test_a_server_that_cannot_run_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("chihaya:\n  http:\n    adr: 127.0.0.1:1\n")
    proc = privtrak("serve", "--config", str(bad))
    assert proc.returncode == 2 and "chihaya.http.adr" in proc.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = privtrak("serve", "--addr", f"127.0.0.1:{port}", "--database",
                        str(tmp_path / "db.sqlite"), cwd=tmp_path)
    assert proc.returncode == 2 and "address already in use" in proc.stderr.lower()


def test_serve_starts_on_defaults_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "serve.yaml"
    write_config(config, tmp_path / "db.sqlite", tmp_path / "state.json")
    server = ServerProcess(config, tmp_path / "serve.log")
    assert server.stop() == 0
    log = (tmp_path / "serve.log").read_text("utf-8")
    assert "serving on 127.0.0.1:" in log and "state written to" in log
    assert (tmp_path / "state.json").exists() and (tmp_path / "db.sqlite").exists()


def test_help_lists_serve_and_load() -> None:
    proc = privtrak("--help")
    assert proc.returncode == 0
    assert "    serve " in proc.stdout and "    load " in proc.stdout
