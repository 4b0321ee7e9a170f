"""Adapters that hang, crash or break the protocol are reported per case and
step, never hang the runner, and the run goes on with a fresh process."""

from __future__ import annotations

from pathlib import Path

import pytest
from conform_helpers import conform, fake, small_vector_file

# Two small cases with at least two steps each.
IDS = ("seed/R0/same-second-and-late-start", "recommended/R0/same-second-and-late-start")


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_vector_file(tmp_path_factory.mktemp("vectors"), IDS)


def run_fake(mode: str, vectors: Path, capsys: pytest.CaptureFixture[str],
             *extra: str) -> tuple[int, str]:
    status = conform("--adapter", fake(mode), "--vectors", str(vectors), "--timeout", "1",
                     *extra)
    return status, capsys.readouterr().out


def errored_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("ERRORED")]


def test_the_fake_adapter_without_faults_passes(
        vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("ok", vectors, capsys)
    assert status == 0, out
    assert "2 cases, 2 passed" in out


def test_a_hanging_adapter_times_out_and_is_replaced(
        vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("hang", vectors, capsys)
    assert status == 1
    lines = errored_lines(out)
    assert len(lines) == 2, out  # the second case ran on a restarted adapter
    assert all("step 1: no reply within 1 s" in line for line in lines), lines


def test_the_per_case_timeout_is_named(vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("hang", vectors, capsys, "--case-timeout", "0.5")
    assert status == 1
    assert "longer than the per-case timeout of 0.5 s" in errored_lines(out)[0]


def test_a_crashing_adapter_is_reported_with_its_stderr(
        vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("crash", vectors, capsys)
    assert status == 1
    lines = errored_lines(out)
    assert len(lines) == 2, out
    assert all("/R0/same-second-and-late-start step 1: " in line for line in lines), lines
    assert "exited with status 3" in lines[0]
    assert "fake adapter: simulated crash at step 1" in out
    assert "2 errored" in out.splitlines()[-1]


@pytest.mark.parametrize(("mode", "message"), [
    ("garbage", "reply is not JSON"),
    ("wrong-index", "observation for step 7 while step 1 was asked"),
    ("bad-observation", "malformed announce observation"),
    ("error", "the adapter reported an error (crashed): cannot do that"),
])
def test_protocol_breaches_name_file_case_and_step(
        mode: str, message: str, vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake(mode, vectors, capsys)
    assert status == 1
    lines = errored_lines(out)
    assert len(lines) == 2, out
    assert lines[0].startswith(
        "ERRORED  small.json: recommended/R0/same-second-and-late-start step 1: "), lines[0]
    assert message in lines[0]


def test_a_flood_on_stderr_does_not_block(
        vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("flood", vectors, capsys)
    assert status == 0, out


@pytest.mark.parametrize(("mode", "message"), [
    ("bad-hello", "bad hello reply"),
    ("old-protocol", "the adapter speaks protocol 99; this runner speaks 2"),
    ("protocol-1", "this runner speaks 2, which adds deferred batch outcomes (take and report "
                   "steps)"),
])
def test_a_failed_handshake_cannot_run(mode: str, message: str,
                                       vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = conform("--adapter", fake(mode), "--vectors", str(vectors), "--timeout", "2")
    err = capsys.readouterr().err
    assert status == 2
    assert message in err


def test_missing_features_skip_honestly_and_gated_fields_are_not_compared(
        vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("seed-only", vectors, capsys, "-v")
    assert status == 0, out
    assert "SKIPPED  small.json: recommended/R0/same-second-and-late-start: adapter lacks " \
           "feature(s): event_records, preset:recommended, purge_records" in out
    assert "PASSED   small.json: seed/R0/same-second-and-late-start" in out
    assert "2 cases, 1 passed, 0 failed, 1 skipped, 0 errored" in out


def test_an_unsupported_reset_is_a_skip(vectors: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_fake("decline", vectors, capsys, "-v")
    assert status == 0, out
    assert out.count("adapter declined the case: not today") == 2
