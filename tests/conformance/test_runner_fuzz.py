"""``privtrak conform fuzz``: no divergence on the reference; on a mutant a
shrunk, deterministic, ready-to-commit vector file that the runner replays."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from conform_helpers import REFERENCE, conform

from privtrak.cli import main
from privtrak.conformance import load_strict

MUTANT = f"{shlex.quote(sys.executable)} -m privtrak adapter --mutant purge-never"


def fuzz(*args: str) -> int:
    return main(["conform", "fuzz", *args])


def test_the_reference_does_not_diverge_from_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz("--adapter", REFERENCE, "--max-examples", "40", "--seed", "3") == 0
    assert capsys.readouterr().out.strip() == (
        "conform fuzz: no divergence in 40 traces (adapter: privtrak-reference 0.1.0, seed 3)")


def test_the_time_bound_stops_the_search(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz("--adapter", REFERENCE, "--max-examples", "100000", "--time", "0") == 0
    assert "no divergence in 0 traces" in capsys.readouterr().out


def test_a_divergence_is_shrunk_printed_and_written_deterministically(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert fuzz("--adapter", MUTANT, "--seed", "0", "--out", str(first)) == 1
    out = capsys.readouterr().out
    assert out.startswith("minimal divergent trace (")
    assert ">>" in out  # the divergent step is marked
    assert f"vector written to {first}" in out
    assert fuzz("--adapter", MUTANT, "--seed", "0", "--out", str(second)) == 1
    capsys.readouterr()
    assert first.read_bytes() == second.read_bytes()
    cases = load_strict(first)
    assert len(cases) == 1
    assert cases[0].id.startswith("fuzz/")
    assert len(cases[0].steps) <= 6  # shrunk: purging needs an entry, time and a GC
    # The written file is a vector like any other: the reference passes it,
    # the mutant fails it.
    assert conform("--adapter", REFERENCE, "--vectors", str(first)) == 0
    assert conform("--adapter", MUTANT, "--vectors", str(first)) == 1


def test_fuzz_without_adapter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz() == 3
    assert "--adapter COMMAND is required" in capsys.readouterr().err
