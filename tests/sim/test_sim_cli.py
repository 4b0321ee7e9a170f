"""``privtrak sim`` end to end."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import privtrak.sim.cli as sim_cli
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


def test_cli_writes_the_summary_it_prints(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    assert main(["sim", str(path), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    summary = (out / "summary.md").read_text()
    assert summary.endswith("\n") and summary in printed
    assert "verdict: " in summary and "records per call" in summary
    assert "wall" not in summary  # wall-clock figures stay out of the files
    data = json.loads((out / "results.json").read_text())
    assert set(data) >= {"stability", "rates", "latency", "memory", "bytes"}


def test_cli_set_overrides_scenario_keys(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    assert main(["sim", str(path), "--out", str(tmp_path), "--no-progress",
                 "--set", "workload.population=20", "--set", "database.latency.base=50ms",
                 "--set", "hook_mode=posthook", "--set", "tracker.batch_size=8"]) == 0
    sc = json.loads((tmp_path / "results.json").read_text())["scenario"]
    assert sc["workload"]["population"] == 20
    assert sc["workload"]["users"] == 10  # the file's other keys stay
    assert sc["database"]["latency"]["base"] == 0.05
    assert sc["hook_mode"] == "posthook"
    assert sc["tracker"]["batch_size"] == 8


@pytest.mark.parametrize(("assignment", "expected"), [
    ("workload.populaton=5", "'workload.populaton': unknown key (did you mean 'population'?)"),
    ("tracker.batch_sise=5", "'tracker.batch_sise': unknown key (did you mean 'batch_size'?)"),
    ("workload.population=-5", "'workload.population': must not be negative"),
    ("duration.x=5", "'duration': is not a mapping, so 'duration.x' cannot be set"),
    ("workload.population", "'--set': must be dotted.key=value"),
    ("database.latency.base=fast", "'database.latency.base': is not a duration"),
])
def test_cli_set_is_validated_like_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            assignment: str, expected: str) -> None:
    assert main(["sim", "--out", str(tmp_path / "o"), "--no-progress",
                 "--set", assignment]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_duration_accepts_seconds_and_go_durations(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    for text, seconds in (("90", 90.0), ("1m30s", 90.0), ("120.5", 120.5)):
        assert main(["sim", str(path), "--out", str(tmp_path), "--duration", text,
                     "--no-progress"]) == 0
        assert json.loads((tmp_path / "results.json").read_text())["simulated_seconds"] == seconds
    for bad, why in (("-5", "must be positive"), ("0", "must be positive"),
                     ("5 minutes", "is not a duration")):
        assert main(["sim", str(path), "--out", str(tmp_path), "--duration", bad,
                     "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"'--duration': {why}" in err and repr(bad) in err


def test_cli_refuses_an_unwritable_output_before_running(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("the simulation must not run")

    monkeypatch.setattr(sim_cli, "run_scenario", never)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, why in ((a_file, "exists and is not a folder"),
                     (a_file / "below", "cannot write there")):
        assert main(["sim", "--out", str(out), "--no-progress"]) == 2
        assert why in capsys.readouterr().err


def test_cli_second_ctrl_c_stops_at_once_and_writes_partial_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = sim_cli.run_scenario
    stamps: list[float] = []

    def run_with_two_presses(scenario: Any, *, on_progress: Any, simulation: Any) -> Any:
        def progress(now: float) -> None:
            on_progress(now)
            stamps.append(now)
            if len(stamps) == 2:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
        return real_run(scenario, on_progress=progress, simulation=simulation)

    monkeypatch.setattr(sim_cli, "run_scenario", run_with_two_presses)
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO.replace("duration: 5m", "duration: 2h"))
    out = tmp_path / "out"
    assert main(["sim", str(path), "--out", str(out), "--no-progress"]) == 130
    data = json.loads((out / "results.json").read_text())
    assert data["partial"] is True
    # Stopped at once: no further progress step was reached.
    assert stamps[-1] == stamps[1] and data["simulated_seconds"] <= stamps[1]
    assert data["accounting"]["conservation"]["holds"] is True
    err = capsys.readouterr().err
    assert "stopping now" in err and "Traceback" not in err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
