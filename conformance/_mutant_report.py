"""How hard each mutant is to catch: a table for the record.

``python -m privtrak.conformance._mutant_report [--seed S] [--max-examples N]``
runs every mutant of :mod:`._mutants` as a real adapter subprocess, first
against every packaged vector (how many cases fail), then under the
differential fuzzer (how many traces until the first divergence, and the
length of the shrunk trace, up to the divergent step). It prints a Markdown
table and exits 1 if a mutant escaped the vectors or the fuzzer or its
counterexample did not shrink to at most MAX_SHRUNK_STEPS steps; the output
depends only on the vectors, the seed and the code, never on timing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ._fuzz import fuzz
from ._load import LoadedCase, load_files, vector_files
from ._mutants import MUTANTS, adapter_command, describe
from ._report import Status
from ._runner import run_cases
from ._session import RunOptions, Session
from ._vectors import packaged_vector_dir

MAX_SHRUNK_STEPS = 6
"""Every counterexample must shrink to at most this many steps."""


@dataclass(frozen=True, slots=True)
class MutantScore:
    """What catching one mutant took."""

    name: str
    cases: int
    failed: int
    errored: int
    caught_after: int | None
    shrunk_steps: int | None


def score(name: str, cases: Sequence[LoadedCase], *, seed: int, max_examples: int,
          shrink: bool = True) -> MutantScore:
    """Run mutant ``name`` against ``cases`` and under the fuzzer."""
    command = adapter_command(name)
    _, results = run_cases(RunOptions(command), cases)
    session = Session(RunOptions(command))
    session.open()
    try:
        found = fuzz(session, presets=("seed", "recommended"), max_examples=max_examples,
                     seed=seed, shrink=shrink)
    finally:
        session.close()
        session.discard()
    return MutantScore(
        name, len(results), sum(r.status is Status.FAILED for r in results),
        sum(r.status is Status.ERRORED for r in results), found.caught_after,
        None if found.failure is None else len(found.failure.trace.steps))


def render(scores: Sequence[MutantScore], seed: int, max_examples: int) -> str:
    """The Markdown table."""
    lines = [
        f"| mutant | bug | vector cases failed | fuzz traces until caught (seed {seed}, "
        f"max {max_examples}) | shrunk trace steps |",
        "|---|---|---|---|---|",
    ]
    for s in scores:
        failed = f"{s.failed} / {s.cases}" + (f" (+{s.errored} errored)" if s.errored else "")
        caught = "not caught" if s.caught_after is None else str(s.caught_after)
        steps = "" if s.shrunk_steps is None else str(s.shrunk_steps)
        lines.append(f"| {s.name} | {describe(s.name)} | {failed} | {caught} | {steps} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; exit 1 if some mutant escaped the vectors or the fuzzer."""
    parser = argparse.ArgumentParser(prog="python -m privtrak.conformance._mutant_report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-examples", type=int, default=1000)
    parser.add_argument("--mutant", action="append", default=[], choices=sorted(MUTANTS))
    args = parser.parse_args(argv)
    cases = [c for c in load_files(vector_files(packaged_vector_dir()))
             if isinstance(c, LoadedCase)]
    scores = []
    for name in args.mutant or list(MUTANTS):
        scores.append(score(name, cases, seed=args.seed, max_examples=args.max_examples))
        print(f"{name}: done", file=sys.stderr)
    print(render(scores, args.seed, args.max_examples))
    escaped = [s.name for s in scores if not s.failed or s.caught_after is None
               or s.shrunk_steps is None or s.shrunk_steps > MAX_SHRUNK_STEPS]
    if escaped:
        print(f"escaped or shrunk to more than {MAX_SHRUNK_STEPS} steps: {', '.join(escaped)}",
              file=sys.stderr)
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
