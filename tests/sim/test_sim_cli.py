"""``privtrak sim`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privtrak.cli import main

SCENARIO = """
name: tiny
duration: 5m
bucket: 1m
workload: {population: 50, users: 10, torrents: 5, announce_interval: 1m, jitter: 5s}
"""


def test_cli_runs_a_scenario_and_writes_three_files(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    assert main(["sim", str(path), "--out", str(out), "--seed", "3", "--no-progress"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["scenario"]["seed"] == 3
    assert data["accounting"]["conservation"]["holds"] is True
    assert not data["partial"]
    assert (out / "series.csv").read_text().count("\n") == 1 + 5
    assert (out / "accounting.csv").read_text().startswith("row,up,down\ntransferred,")
    printed = capsys.readouterr().out
    assert "conservation: exact" in printed


def test_cli_duration_override(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    assert main(["sim", str(path), "--out", str(tmp_path), "--duration", "2m",
                 "--no-progress"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["simulated_seconds"] == 120.0


def test_cli_refuses_a_bad_scenario_naming_the_key(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("workload: {arrivals: {rate: -4}}\n")
    assert main(["sim", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "workload.arrivals.rate" in err and "-4" in err
    assert not (tmp_path / "o").exists()


def test_cli_without_a_scenario_runs_the_embedded_default(tmp_path: Path) -> None:
    assert main(["sim", "--out", str(tmp_path), "--duration", "2m", "--no-progress"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["scenario"]["name"] == "default"
    assert data["summary"]["announces_accounted"] > 0
