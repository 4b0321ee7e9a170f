"""``privtrak adapter --model``: the normative model behind the protocol.

The packaged vectors (generated from the fast Tracker) all pass against the
model, a model that breaks one rule fails them, the differential fuzzer
finds no divergence between model and Tracker, and the model is imported
only when ``--model`` is asked for.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conform_helpers import REFERENCE, conform, packaged_cases

import privtrak.reference.model.batches as model_batches
from privtrak.cli import main
from privtrak.conformance import Case, ModelExecution
from privtrak.conformance._execute import BeyondModel

MODEL = f"{REFERENCE} --model"


def test_the_model_passes_every_packaged_vector(capsys: pytest.CaptureFixture[str]) -> None:
    total = len(packaged_cases())
    assert conform("--adapter", MODEL) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"conform: {total} cases, {total} passed, 0 failed, 0 skipped, 0 errored "
        "(adapter: privtrak-model 0.1.0)")


def diverging_cases(cases: tuple[Case, ...]) -> list[str]:
    """Ids of the cases whose observations the model does not reproduce, in process."""
    out = []
    for case in cases:
        execution = ModelExecution(case.config, case.start, case.allow_list)
        try:
            if any(execution.apply(s.step) != s.expect for s in case.steps):
                out.append(case.id)
        except BeyondModel:
            out.append(case.id)
    return out


def test_snapshot_restore_cases_run_on_the_model_itself() -> None:
    cases = tuple(c for c in packaged_cases()
                  if any(s.step.op == "snapshot_restore" for s in c.steps))
    assert len(cases) >= 5
    assert diverging_cases(cases) == []


def test_the_vectors_catch_a_model_that_breaks_the_backoff_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cases = tuple(c for c in packaged_cases() if "R6.5" in c.rules)
    assert diverging_cases(cases) == []
    # R6.5 without its cap: the wait doubles past retry_backoff_max.
    monkeypatch.setattr(model_batches, "backoff",
                        lambda m, attempts: m.config.retry_backoff_initial * 2 ** (attempts - 1))
    assert diverging_cases(cases) != []


def test_fuzzing_finds_no_divergence_between_model_and_tracker(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "fuzz", "--adapter", MODEL, "--max-examples", "40",
                 "--seed", "5"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "conform fuzz: no divergence in 40 traces (adapter: privtrak-model 0.1.0, seed 5)")


def test_model_and_mutant_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapter", "--model", "--mutant", "x"]) == 3
    assert "--model" in capsys.readouterr().err


def test_the_model_is_imported_only_for_model() -> None:
    probe = ("import sys\nfrom privtrak.cli import main\nmain(sys.argv[1:])\n"
             "print('privtrak.reference.model' in sys.modules, file=sys.stderr)")
    for args, loaded in (([], "False"), (["--model"], "True")):
        proc = subprocess.run([sys.executable, "-c", probe, "adapter", *args],
                              input='{"type": "bye"}\n', capture_output=True, text=True,
                              timeout=60, check=True)
        assert proc.stderr.strip().splitlines()[-1] == loaded, proc.stderr


def test_the_adapter_help_mentions_model(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["adapter", "--help"])
    assert "--model" in capsys.readouterr().out
