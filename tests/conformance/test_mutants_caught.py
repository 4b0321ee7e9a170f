"""Proof that the kit catches bugs: every mutant, served over the real adapter
protocol, fails vector cases AND is flagged by the differential fuzzer."""

from __future__ import annotations

import pytest

from privtrak.conformance import (
    LoadedCase,
    RunOptions,
    Session,
    Status,
    fuzz,
    load_files,
    packaged_vector_dir,
    run_cases,
    vector_files,
)
from privtrak.conformance._mutants import MUTANTS, adapter_command

FUZZ_SEED = 0
FUZZ_MAX_EXAMPLES = 1000
"""Every mutant is caught well within this with FUZZ_SEED (see _mutant_report)."""


@pytest.fixture(scope="module")
def hand_written() -> list[LoadedCase]:
    """The hand-written vectors (rules and defects), not the random traces."""
    cases = load_files(vector_files(packaged_vector_dir()))
    return [c for c in cases if isinstance(c, LoadedCase) and not c.source.startswith("random")]


def test_there_are_at_least_forty_mutants() -> None:
    assert len(MUTANTS) >= 40


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_vector_runner_flags_the_mutant(name: str, hand_written: list[LoadedCase]) -> None:
    info, results = run_cases(RunOptions(adapter_command(name)), hand_written)
    assert info.implementation == f"mutant:{name}"
    failed = [r for r in results if r.status is Status.FAILED]
    assert failed, f"mutant {name} passed every hand-written vector"
    assert not [r for r in results if r.status is Status.ERRORED]


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_fuzzer_flags_the_mutant(name: str) -> None:
    session = Session(RunOptions(adapter_command(name)))
    session.open()
    try:
        found = fuzz(session, presets=("seed", "recommended"), max_examples=FUZZ_MAX_EXAMPLES,
                     seed=FUZZ_SEED, shrink=False)
    finally:
        session.close()
        session.discard()
    assert found.failure is not None, f"the fuzzer did not catch mutant {name}"
    assert found.caught_after is not None and found.caught_after <= FUZZ_MAX_EXAMPLES
