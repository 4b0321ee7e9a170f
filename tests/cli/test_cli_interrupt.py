"""Ctrl-C during ``privtrak conform`` and ``privtrak conform fuzz``: a clean
stop that reports what was done, writes partial results, and exits 130."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import privtrak.conformance._fuzz as fuzz_module
from privtrak.conformance import load_strict
from privtrak.conformance._fuzz_cli import run_fuzz

HERE = Path(__file__).resolve().parent
SLOW = f"{sys.executable} {HERE / 'cli_slow_adapter.py'}"


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "privtrak", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=None if env is None else {**os.environ, **env})


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_ctrl_c_during_conform_prints_the_summary_and_writes_partial_junit(
        tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    proc = start("conform", "--adapter", f"{SLOW} 0.02", "-v", "--junit", str(junit))
    assert proc.stdout is not None
    seen = [proc.stdout.readline() for _ in range(3)]  # three cases have passed
    assert all(line.startswith("PASSED") for line in seen), seen
    status, out, err = interrupt(proc)
    assert status == 130, err
    assert "Traceback" not in err
    lines = (("".join(seen)) + out).strip().splitlines()
    ran = sum(line.startswith("PASSED") for line in lines)
    assert ran >= 3
    assert lines[-2].startswith(f"conform: {ran} cases, {ran} passed, 0 failed")
    assert lines[-1].startswith(f"conform: interrupted by Ctrl-C after {ran} of ")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(ran)


def test_ctrl_c_during_a_fuzz_search_reports_the_traces_run(tmp_path: Path) -> None:
    mark = tmp_path / "searching"
    proc = start("conform", "fuzz", "--adapter", f"{SLOW} 0.002", "--max-examples", "100000",
                 env={"SLOW_ADAPTER_MARK": str(mark)})
    deadline = time.monotonic() + 120
    while not mark.exists():  # the search has run 20 steps on the adapter
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    status, out, err = interrupt(proc)
    assert status == 130, err
    assert "Traceback" not in err
    assert "before it was interrupted by Ctrl-C" in out
    assert out.startswith("conform fuzz: no divergence in "), out


def test_ctrl_c_while_shrinking_writes_the_divergence_found_so_far(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A Ctrl-C arrives on the fifth divergent trace, i.e. in the middle of
    # shrinking the first one: the shortest divergence so far is written.
    real = fuzz_module.run_lockstep
    divergent = [0]

    def lockstep(*args: Any, **kwargs: Any) -> None:
        try:
            real(*args, **kwargs)
        except fuzz_module.Diverged:
            divergent[0] += 1
            if divergent[0] == 5:
                raise KeyboardInterrupt from None
            raise

    monkeypatch.setattr(fuzz_module, "run_lockstep", lockstep)
    out_file = tmp_path / "partial.json"
    args = argparse.Namespace(
        adapter=f"{sys.executable} -m privtrak adapter --mutant purge-never", preset=None,
        max_examples=300, time=None, seed=0, max_steps=30, out=out_file)
    assert run_fuzz(args, sys.stdout, sys.stderr) == 130
    out = capsys.readouterr().out
    assert "minimal divergent trace" in out
    assert "shrinking was interrupted, so it may not be minimal" in out
    assert f"vector written to {out_file}" in out
    cases = load_strict(out_file)
    assert len(cases) == 1 and cases[0].id.startswith("fuzz/")
