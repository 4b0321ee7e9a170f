"""``privtrak conform fuzz``: the command line of the differential fuzzer.

Adding the options imports nothing heavy; running them imports
:mod:`._fuzz` (and with it Hypothesis). Exit statuses: 0 no divergence,
1 a divergence (written as a vector file), 2 the adapter could not be run,
3 a command-line error (checked before the search starts, the output path
included), 130 Ctrl-C: the search stops, and a divergence found so far is
printed and written, marked as possibly not minimal.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TextIO

from privtrak._usage import EXIT_INTERRUPTED, EXIT_USAGE, check_writable_file

from ._session import EXIT_CANNOT_RUN

DEFAULT_MAX_EXAMPLES = 1000
"""Traces a default run draws. With seed 0 a run of 1000 catches every one of
the 41 shipped mutants (the slowest after 381 traces), where a run of 300
lets three through (``python -m privtrak.conformance._mutant_report
--max-examples N``; how far a run gets also depends on N, since Hypothesis
paces its search by it). Against a conforming implementation 1000 traces
take about 20 s of CPU."""
DEFAULT_TIMEOUT = 5.0
EXIT_DIVERGENCE = 1


def add_fuzz_arguments(parser: argparse.ArgumentParser) -> None:
    """``privtrak conform fuzz``'s options."""
    parser.add_argument("--adapter", metavar="COMMAND", default=argparse.SUPPRESS,
                        help="the adapter command line, e.g. 'privtrak adapter'")
    parser.add_argument("--preset", action="append", choices=("seed", "recommended"),
                        default=argparse.SUPPRESS,
                        help="fuzz only this preset (repeatable; default both)")
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, metavar="N",
                        help=f"run at most N traces (default {DEFAULT_MAX_EXAMPLES})")
    parser.add_argument("--time", type=float, default=None, metavar="SECONDS",
                        help="stop generating new traces after this long")
    parser.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    parser.add_argument("--max-steps", type=int, default=30, metavar="N",
                        help="steps per trace at most (default 30)")
    parser.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                        help=f"wait at most this long for one reply (default "
                             f"{DEFAULT_TIMEOUT:g})")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write the divergent trace as a vector file (default "
                             "fuzz-<implementation>-seed<S>.json in the current directory); "
                             "checked to be writable before the search")


def _output_problem(out: Path | None) -> str | None:
    if out is not None:
        return check_writable_file(out)
    if not os.access(".", os.W_OK | os.X_OK):
        return (f"the current directory {Path.cwd()} is not writable (give --out FILE "
                "elsewhere)")
    return None


def run_fuzz(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Entry point of ``privtrak conform fuzz``; see the module docstring."""
    if not getattr(args, "adapter", None):
        print("privtrak conform fuzz: --adapter COMMAND is required", file=err)
        return EXIT_USAGE
    for option, value in (("--max-examples", args.max_examples), ("--max-steps", args.max_steps)):
        if value < 1:
            print(f"privtrak conform fuzz: {option} must be at least 1, got {value}", file=err)
            return EXIT_USAGE
    if (problem := _output_problem(args.out)) is not None:
        print(f"privtrak conform fuzz: cannot write the vector file: {problem}", file=err)
        return EXIT_USAGE

    from ._fuzz import failure_case, fuzz, render_failure  # noqa: PLC0415 (Hypothesis)
    from ._session import CannotRun, RunOptions, Session  # noqa: PLC0415
    from ._vectors import dumps_file  # noqa: PLC0415

    presets = list(getattr(args, "preset", None) or ["seed", "recommended"])
    timeout = getattr(args, "timeout", DEFAULT_TIMEOUT)
    session = Session(RunOptions(args.adapter, timeout, timeout))
    try:
        info = session.open()
        result = fuzz(session, presets=presets, max_examples=args.max_examples,
                      time_limit=args.time, seed=args.seed, max_steps=args.max_steps)
    except CannotRun as exc:
        print(f"privtrak conform fuzz: cannot run: {exc}", file=err)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        session.discard()
        print("conform fuzz: interrupted by Ctrl-C before the search began", file=out)
        return EXIT_INTERRUPTED
    finally:
        session.close()
        session.discard()
    name = f"{info.implementation} {info.version}".strip()
    stopped = " before it was interrupted by Ctrl-C" if result.interrupted else ""
    status = EXIT_INTERRUPTED if result.interrupted else EXIT_DIVERGENCE
    if result.failure is None:
        declined = f", {result.declined} declined by the adapter" if result.declined else ""
        print(f"conform fuzz: no divergence in {result.examples} traces{declined}{stopped} "
              f"(adapter: {name}, seed {args.seed})", file=out)
        return EXIT_INTERRUPTED if result.interrupted else 0
    print(render_failure(result.failure), file=out)
    case = failure_case(result.failure, info.implementation, args.seed)
    path = args.out if args.out is not None else Path(
        f"fuzz-{_slug(info.implementation)}-seed{args.seed}.json")
    try:
        path.write_text(dumps_file("fuzz", [case]), encoding="utf-8")
    except OSError as exc:
        print(f"privtrak conform fuzz: cannot write the vector file {path}: {exc}", file=err)
        return EXIT_USAGE
    shrunk = ("shrinking was interrupted, so it may not be minimal" if result.interrupted
              else "shrunk")
    print(f"conform fuzz: divergence after {result.caught_after} traces, "
          f"{len(result.failure.trace.steps)} steps ({shrunk}; {result.examples} traces run "
          f"in all{stopped}; adapter: {name}, seed {args.seed}); vector written to {path}",
          file=out)
    return status


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "adapter"
