"""Malformed vector files are errors naming file, case and step, and the run
goes on; a failure shows the first divergent step as a readable diff."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conform_helpers import REFERENCE, conform, small_vector_file

from privtrak.conformance._diff import compare, gate

IDS = ("seed/R0/same-second-and-late-start", "recommended/R0/same-second-and-late-start")


def test_broken_files_and_cases_are_reported_and_the_run_continues(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = small_vector_file(tmp_path, IDS)
    doc = json.loads(good.read_text())
    bad_case = json.loads(json.dumps(doc["cases"][0]))
    bad_case["id"] = "broken/bad-step"
    bad_case["steps"][1]["step"]["now"] = "soon"
    doc["cases"].append(bad_case)
    (tmp_path / "mixed.json").write_text(json.dumps(doc))
    (tmp_path / "zz-not-json.json").write_text("{ this is not json")
    good.unlink()
    junit = tmp_path / "out.xml"
    status = conform("--adapter", REFERENCE, "--vectors", str(tmp_path), "--junit", str(junit))
    out = capsys.readouterr().out
    assert status == 1
    errored = [line for line in out.splitlines() if line.startswith("ERRORED")]
    assert len(errored) == 2, out
    assert errored[0].startswith("ERRORED  mixed.json: broken/bad-step step 1: malformed vector")
    assert "now" in errored[0]
    assert errored[1].startswith("ERRORED  zz-not-json.json: <file>: malformed vector")
    assert out.splitlines()[-1].startswith(
        "conform: 4 cases, 2 passed, 0 failed, 0 skipped, 2 errored")
    errors = ET.parse(junit).getroot().findall("./testsuite/testcase/error")
    assert len(errors) == 2
    assert errors[0].get("message", "").startswith("step 1: malformed vector")


def test_a_wrong_expectation_fails_with_a_diff_of_the_first_divergent_step(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = small_vector_file(tmp_path, IDS[:1])
    doc = json.loads(path.read_text())
    steps = doc["cases"][0]["steps"]
    index = next(i for i, s in enumerate(steps) if s["step"]["op"] == "announce")
    steps[index]["expect"]["outcome"] = (
        "credited" if steps[index]["expect"]["outcome"] != "credited" else "reset")
    path.write_text(json.dumps(doc))
    junit = tmp_path / "out.xml"
    status = conform("--adapter", REFERENCE, "--vectors", str(path), "--junit", str(junit))
    out = capsys.readouterr().out
    assert status == 1
    assert f"FAILED   small.json: {IDS[0]} step {index}: announce observation differs at " \
           "outcome" in out
    assert "  outcome: expected " in out
    assert "--- expected" in out and "+++ observed" in out
    failure = ET.parse(junit).getroot().find("./testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message", "").startswith(f"step {index}: announce observation differs")
    assert "+++ observed" in (failure.text or "")


def test_junit_is_byte_identical_across_runs(tmp_path: Path) -> None:
    path = small_vector_file(tmp_path, IDS)
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    assert conform("--adapter", REFERENCE, "--vectors", str(path), "--junit", str(first)) == 0
    assert conform("--adapter", REFERENCE, "--vectors", str(path), "--junit", str(second)) == 0
    assert first.read_bytes() == second.read_bytes()


BATCH = {"batch_id": 4, "shard": 0, "sealed_at": 1, "records": []}


def test_gating_drops_fields_of_features_the_adapter_lacks() -> None:
    expected = {"status": "ok", "reject": None, "outcome": "credited", "record": None,
                "deliveries": [{"batch": BATCH, "outcome": "ok"}]}
    assert gate(expected, {"outcomes", "records", "batch_ids"}) == expected
    gated = gate(expected, set())
    assert "outcome" not in gated and "record" not in gated
    assert gated["deliveries"][0]["batch"] == {"shard": 0, "sealed_at": 1, "records": []}


def test_compare_ignores_gated_fields_and_extra_keys_but_not_values() -> None:
    expected = {"status": "ok", "reject": None, "outcome": "credited",
                "deliveries": [{"batch": BATCH, "outcome": "ok"}]}
    renumbered = {**BATCH, "batch_id": 99}
    observed = {"status": "ok", "reject": None, "outcome": "reset", "extra": 1,
                "deliveries": [{"batch": renumbered, "outcome": "ok"}]}
    assert compare(expected, observed, set()) is None
    with_features = compare(expected, observed, {"outcomes", "batch_ids"})
    assert with_features is not None
    assert with_features.paths == ("deliveries[0].batch.batch_id", "outcome")
    missing = compare(expected, {"status": "ok", "reject": None, "deliveries": []}, set())
    assert missing is not None
    assert missing.paths == ("deliveries[0]",)
    assert "expected" in missing.render("step 0")
