"""The runner against the reference adapter: every vector passes; filters,
JUnit output and exit codes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conform_helpers import REFERENCE, conform

from privtrak.conformance import load_file, packaged_vector_files


def shipped_case_count() -> int:
    return sum(len(load_file(p).cases) for p in packaged_vector_files())


def test_reference_adapter_passes_every_packaged_vector(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "conform.xml"
    status = conform("--adapter", REFERENCE, "--junit", str(junit))
    out = capsys.readouterr().out
    total = shipped_case_count()
    assert total >= 200
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        f"conform: {total} cases, {total} passed, 0 failed, 0 skipped, 0 errored "
        "(adapter: privtrak-reference 0.1.0)")
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(total)
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")
    cases = suite.findall("testcase")
    assert len(cases) == total
    assert all(len(c) == 0 for c in cases)  # no failure/error/skipped children
    assert {c.get("classname") for c in cases} == {
        "conformance." + p.stem for p in packaged_vector_files()}


def test_filters_select_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert conform("--adapter", REFERENCE, "--preset", "seed", "--rule", "R4",
                   "--case", "seed/*", "-v") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    passed = [line for line in lines if line.startswith("PASSED")]
    assert passed, lines
    assert all(": seed/R4" in line for line in passed), passed
    assert lines[-1].startswith(f"conform: {len(passed)} cases, {len(passed)} passed")


def test_no_matching_case_is_a_usage_error_naming_the_filters(
        capsys: pytest.CaptureFixture[str]) -> None:
    # 3, not 2: exit status 2 is reserved for an adapter that could not run.
    assert conform("--adapter", REFERENCE, "--case", "no/such/case*", "--preset", "seed") == 3
    err = capsys.readouterr().err
    assert "no case matches the filters --case 'no/such/case*' --preset seed" in err


def test_missing_command_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert conform("--adapter", "/nonexistent/adapter-binary --flag", "--case", "seed/R0/*") == 2
    assert "cannot start adapter" in capsys.readouterr().err


def test_missing_vectors_path_is_a_usage_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert conform("--adapter", REFERENCE, "--vectors", str(tmp_path / "none")) == 3
    assert "no such vector file or directory" in capsys.readouterr().err


def test_adapter_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert conform() == 3
    assert "--adapter COMMAND is required" in capsys.readouterr().err
