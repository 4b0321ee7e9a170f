"""``privtrak conform``: run the conformance vectors against an adapter command.

One adapter process serves the whole run; each case begins with a ``reset``.
A case ends as:

* ``passed``: every step's observation matched;
* ``failed``: the first divergent step is reported, expected vs observed;
* ``skipped``: the adapter lacks a feature the case needs (its preset is one,
  ``preset:<name>``), or it answered the reset with ``unsupported``;
* ``errored``: the adapter crashed, timed out (per message or per case),
  broke the protocol or answered ``error``; or the vector is malformed. The
  report names the file, case and step and carries the adapter's stderr
  tail. A crashed or confused adapter is killed and restarted before the
  next case.

Exit status: 0 every applicable case passed; 1 a case failed or errored;
2 the run could not happen (the command cannot start, the handshake failed,
no vector matched).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from ._client import AdapterInfo, StepFailed, Unsupported
from ._diff import compare
from ._fuzz import add_fuzz_arguments, run_fuzz
from ._junit import write_junit
from ._load import (
    BrokenCase,
    Case,
    load_files,
    select,
    vector_files,
)
from ._process import AdapterError, AdapterTimeout
from ._report import CaseResult, Status, exit_status, summary_line
from ._session import (
    DEFAULT_CASE_TIMEOUT,
    DEFAULT_TIMEOUT,
    EXIT_CANNOT_RUN,
    CannotRun,
    RunOptions,
    Session,
)
from ._vectors import packaged_vector_dir


def run_case(session: Session, case: Case) -> CaseResult:
    """Run one case; never raises for adapter trouble (except CannotRun on restart)."""
    if isinstance(case, BrokenCase):
        return CaseResult(case.case_id, case.source, Status.ERRORED,
                          f"malformed vector: {case.message}", "", case.step)
    assert session.info is not None
    missing = sorted(case.features - session.info.features)
    if missing:
        return CaseResult(case.case_id, case.source, Status.SKIPPED,
                          f"adapter lacks feature(s): {', '.join(missing)}")
    client = session.ensure()
    deadline = time.monotonic() + session.options.case_timeout
    step_index: int | None = None

    def remaining() -> float:
        return min(session.options.timeout, deadline - time.monotonic())

    try:
        client.reset(case.case_id, case.preset, case.config, case.start, remaining(),
                     allow_list=case.allow_list)
        for step_index, (step, expect) in enumerate(zip(case.steps, case.expects,
                                                        strict=True)):
            observed = client.step(step_index, step, remaining())
            divergence = compare(expect, observed, session.info.features, step["op"])
            if divergence is not None:
                client.check_observation(step["op"], observed)
                heading = (f"first divergence at step {step_index} "
                           f"{json.dumps(step, sort_keys=True)}")
                return CaseResult(case.case_id, case.source, Status.FAILED,
                                  f"{step['op']} observation differs at "
                                  f"{', '.join(p or '<observation>' for p in divergence.paths)}",
                                  divergence.render(heading), step_index)
    except Unsupported as exc:
        return CaseResult(case.case_id, case.source, Status.SKIPPED,
                          f"adapter declined the case: {exc.reason}")
    except AdapterError as exc:
        if not isinstance(exc, StepFailed):
            session.discard()
        message = exc.message
        if isinstance(exc, AdapterTimeout) and deadline - time.monotonic() <= 0:
            message = (f"case took longer than the per-case timeout of "
                       f"{session.options.case_timeout:g} s")
        where = "reset" if step_index is None else None
        detail = f"adapter stderr (last lines):\n{_indent(exc.stderr_tail)}" \
            if exc.stderr_tail else "adapter stderr: (empty)"
        return CaseResult(case.case_id, case.source, Status.ERRORED,
                          f"{where}: {message}" if where else message, detail, step_index)
    return CaseResult(case.case_id, case.source, Status.PASSED)


def run_cases(options: RunOptions, cases: Sequence[Case],
              on_result: Callable[[CaseResult], None] | None = None
              ) -> tuple[AdapterInfo, list[CaseResult]]:
    """Run ``cases`` against one adapter; raises CannotRun before any case ran."""
    session = Session(options)
    info = session.open()
    results: list[CaseResult] = []
    try:
        for case in cases:
            try:
                result = run_case(session, case)
            except CannotRun as exc:
                result = CaseResult(case.case_id, case.source, Status.ERRORED,
                                    f"the adapter could not be restarted: {exc}")
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        session.close()
        session.discard()
    return info, results


# -- the command line -----------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``privtrak conform``'s options, and the nested ``fuzz`` action."""
    add_run_arguments(parser)
    actions = parser.add_subparsers(dest="conform_action", metavar="ACTION")
    fuzz = actions.add_parser(
        "fuzz", help="differential fuzzing: random traces against the adapter and the "
                     "reference in lock-step",
        description="Generate random traces, run each against the adapter and the "
                    "reference, shrink the first divergence and write it as a vector file.")
    add_fuzz_arguments(fuzz)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a vector run."""
    parser.add_argument("--adapter", metavar="COMMAND",
                        help="the adapter command line (split like a shell does, not run "
                             "through a shell), e.g. 'privtrak adapter'")
    parser.add_argument("--vectors", metavar="PATH", type=Path,
                        help="a vector file or a directory of them (default: the packaged "
                             "vectors)")
    parser.add_argument("--preset", action="append", choices=("seed", "recommended"),
                        default=[], help="only cases of this preset (repeatable)")
    parser.add_argument("--case", action="append", default=[], metavar="GLOB",
                        help="only cases whose id matches this glob (repeatable)")
    parser.add_argument("--rule", action="append", default=[], metavar="RULE",
                        help="only cases covering this rule; R4 also selects R4.1 (repeatable)")
    parser.add_argument("--junit", metavar="FILE", type=Path,
                        help="also write the results as JUnit XML")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"wait at most this long for one reply (default "
                             f"{DEFAULT_TIMEOUT:g})")
    parser.add_argument("--case-timeout", type=float, default=DEFAULT_CASE_TIMEOUT,
                        metavar="SECONDS",
                        help=f"one case may take at most this long (default "
                             f"{DEFAULT_CASE_TIMEOUT:g})")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also list passed and skipped cases")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``privtrak conform`` (and ``privtrak conform fuzz``)."""
    try:
        if getattr(args, "conform_action", None) == "fuzz":
            return run_fuzz(args)
        return run_vectors(args, sys.stdout, sys.stderr)
    except BrokenPipeError:
        # The reader of our output went away (e.g. piped into head): stop
        # quietly; the adapter was already ended by the session's cleanup.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def run_vectors(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the selected vectors; print per-case lines and the summary."""
    if not args.adapter:
        print("privtrak conform: --adapter COMMAND is required", file=err)
        return EXIT_CANNOT_RUN
    source = args.vectors if args.vectors is not None else packaged_vector_dir()
    if not source.exists():
        print(f"privtrak conform: no such vector file or directory: {source}", file=err)
        return EXIT_CANNOT_RUN
    files = vector_files(source)
    if not files:
        print(f"privtrak conform: no *.json vector files in {source}", file=err)
        return EXIT_CANNOT_RUN
    cases = select(load_files(files), presets=args.preset, globs=args.case, rules=args.rule)
    if not cases:
        print("privtrak conform: no case matches the filters", file=err)
        return EXIT_CANNOT_RUN
    options = RunOptions(args.adapter, args.timeout, args.case_timeout)
    bar = tqdm(total=len(cases), file=err, unit="case", desc="conform", leave=False,
               disable=True if args.no_progress else None, dynamic_ncols=True)

    def report(result: CaseResult) -> None:
        bar.update(1)
        if result.status in (Status.FAILED, Status.ERRORED) or args.verbose:
            bar.clear()
            print(result.headline(), file=out)
            if result.detail and result.status in (Status.FAILED, Status.ERRORED):
                print(_indent(result.detail), file=out)
            out.flush()

    try:
        info, results = run_cases(options, cases, report)
    except CannotRun as exc:
        bar.close()
        print(f"privtrak conform: cannot run: {exc}", file=err)
        return EXIT_CANNOT_RUN
    bar.close()
    adapter = f"{info.implementation} {info.version}".strip()
    print(summary_line(results, adapter), file=out)
    if args.junit is not None:
        write_junit(args.junit, results, "privtrak-conformance", adapter)
    return exit_status(results)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())

