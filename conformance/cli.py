"""The conformance kit's subcommands: ``privtrak conform`` (with its ``fuzz``
action), ``privtrak vectors`` and ``privtrak adapter``.

Each is a :class:`Subcommand` (:data:`conform`, :data:`vectors`,
:data:`adapter`) that the ``privtrak`` command registers. This module
imports only the standard library at first; each subcommand imports what it
needs when it runs, so ``privtrak adapter`` never loads the runner, the
fuzzer (Hypothesis) or the schema validator (jsonschema).

Exit statuses are those of :mod:`privtrak._usage`: 0 passed, 1 a case
failed or errored, 2 the adapter could not be run, 3 a command-line error
(checked before anything runs), 130 Ctrl-C (after printing what was done
and writing the partial JUnit file).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from privtrak._usage import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    check_writable_file,
    did_you_mean,
    progress_bar,
)

from ._session import DEFAULT_CASE_TIMEOUT, DEFAULT_TIMEOUT, EXIT_CANNOT_RUN

if TYPE_CHECKING:
    from ._client import AdapterInfo
    from ._report import CaseResult


@dataclass(frozen=True, slots=True)
class Subcommand:
    """What the ``privtrak`` command needs of a subcommand."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    """Add the subcommand's options to its parser."""
    run: Callable[[argparse.Namespace], int]
    """Run it with the parsed options; returns the exit status."""


# -- privtrak conform ----------------------------------------------------------------


def add_conform_arguments(parser: argparse.ArgumentParser) -> None:
    """``privtrak conform``'s options, and the optional ``fuzz`` action."""
    from ._fuzz_cli import add_fuzz_arguments  # noqa: PLC0415 (argparse only)

    add_run_arguments(parser)
    # argparse shows a sub-action as required ("ACTION ..."); it is optional.
    parser.usage = ("%(prog)s [-h] --adapter COMMAND [--vectors PATH] [--preset P] "
                    "[--case GLOB] [--rule RULE] [--junit FILE] [options]\n"
                    "       %(prog)s fuzz [-h] --adapter COMMAND [fuzz options]")
    actions = parser.add_subparsers(dest="conform_action", metavar="[ACTION]",
                                    title="optional action")
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
                        help="only cases whose id matches this glob, or lies beneath it: "
                             "'defect/1' selects defect/1/seed/..., 'random/*/00?' the "
                             "first random ones (repeatable)")
    parser.add_argument("--rule", action="append", default=[], metavar="RULE",
                        help="only cases covering this rule; R4 also selects R4.1 (repeatable)")
    parser.add_argument("--junit", metavar="FILE", type=Path,
                        help="also write the results as JUnit XML (checked to be writable "
                             "before the run)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"wait at most this long for one reply (default "
                             f"{DEFAULT_TIMEOUT:g})")
    parser.add_argument("--case-timeout", type=float, default=DEFAULT_CASE_TIMEOUT,
                        metavar="SECONDS",
                        help=f"one case may take at most this long (default "
                             f"{DEFAULT_CASE_TIMEOUT:g})")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also list passed and skipped cases")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (there is none when stderr is not a terminal)")


def run_conform(args: argparse.Namespace) -> int:
    """Entry point of ``privtrak conform`` (and ``privtrak conform fuzz``)."""
    try:
        if getattr(args, "conform_action", None) == "fuzz":
            from ._fuzz_cli import run_fuzz  # noqa: PLC0415 (loads Hypothesis)

            return run_fuzz(args, sys.stdout, sys.stderr)
        return run_vectors(args, sys.stdout, sys.stderr)
    except BrokenPipeError:
        # The reader of our output went away (e.g. piped into head): stop
        # quietly; the adapter was already ended by the session's cleanup.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def describe_filters(args: argparse.Namespace) -> str:
    """The selection options as typed, e.g. ``--case 'defect/1' --preset seed``."""
    words = [f"{option} {shlex.quote(value)}"
             for option, values in (("--case", args.case), ("--preset", args.preset),
                                    ("--rule", args.rule))
             for value in values]
    return " ".join(words) if words else "(none)"


def run_vectors(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the selected vectors; print per-case lines and the summary."""
    from ._junit import write_junit  # noqa: PLC0415
    from ._load import load_files, select, vector_files  # noqa: PLC0415
    from ._report import Status, exit_status, summary_line  # noqa: PLC0415
    from ._runner import run_cases  # noqa: PLC0415
    from ._session import CannotRun, RunOptions  # noqa: PLC0415
    from ._vectors import packaged_vector_dir  # noqa: PLC0415

    def usage_error(message: str) -> int:
        print(f"privtrak conform: {message}", file=err)
        return EXIT_USAGE

    if not args.adapter:
        return usage_error("--adapter COMMAND is required (the kit checking itself: "
                           "--adapter 'privtrak adapter')")
    if args.junit is not None and (problem := check_writable_file(args.junit)) is not None:
        return usage_error(f"cannot write the --junit file: {problem}")
    source = args.vectors if args.vectors is not None else packaged_vector_dir()
    if not source.exists():
        return usage_error(f"no such vector file or directory: {source}")
    files = vector_files(source)
    if not files:
        return usage_error(f"no *.json vector files in {source}")
    try:
        loaded = load_files(files)
    except KeyboardInterrupt:
        print("privtrak conform: interrupted while loading the vectors; no case ran",
              file=err)
        return EXIT_INTERRUPTED
    cases = select(loaded, presets=args.preset, globs=args.case, rules=args.rule)
    if not cases:
        return usage_error(f"no case matches the filters {describe_filters(args)} "
                           f"({len(loaded)} cases in {source})")
    options = RunOptions(args.adapter, args.timeout, args.case_timeout)
    bar = progress_bar(len(cases), stream=err, enabled=not args.no_progress, unit="case",
                       desc="conform")
    results: list[CaseResult] = []
    adapter = [args.adapter]  # replaced by the adapter's own name after the handshake

    def opened(info: AdapterInfo) -> None:
        adapter[0] = f"{info.implementation} {info.version}".strip()

    def report(result: CaseResult) -> None:
        results.append(result)
        bar.update(1)
        if result.status in (Status.FAILED, Status.ERRORED) or args.verbose:
            bar.clear()
            print(result.headline(), file=out)
            if result.detail and result.status in (Status.FAILED, Status.ERRORED):
                print(_indent(result.detail), file=out)
            out.flush()

    interrupted = False
    try:
        run_cases(options, cases, report, on_open=opened)
    except CannotRun as exc:
        bar.close()
        print(f"privtrak conform: cannot run: {exc}", file=err)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        interrupted = True
    bar.close()
    print(summary_line(results, adapter[0]), file=out)
    if interrupted:
        print(f"conform: interrupted by Ctrl-C after {len(results)} of {len(cases)} cases; "
              "the others did not run", file=out)
    if args.junit is not None:
        try:
            write_junit(args.junit, results, "privtrak-conformance", adapter[0])
        except OSError as exc:
            print(f"privtrak conform: cannot write the --junit file {args.junit}: {exc}",
                  file=err)
            return EXIT_USAGE
    return EXIT_INTERRUPTED if interrupted else exit_status(results)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


conform = Subcommand(add_conform_arguments, run_conform)
"""``privtrak conform [fuzz]``."""


# -- privtrak vectors ----------------------------------------------------------------


def add_vectors_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``privtrak vectors``."""
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="write the vector files and their SHA256SUMS into DIR (in a "
                             "checkout: --out conformance/vectors)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a file in DIR (default: the packaged "
                             "vectors) differs from what would be generated")


def run_vectors_command(args: argparse.Namespace) -> int:
    """Generate (or check) the vector files; returns the exit status."""
    from ._generate import differing, render_all, write_all  # noqa: PLC0415
    from ._vectors import packaged_vector_dir  # noqa: PLC0415

    if args.out is None and not args.check:
        print("privtrak vectors: say what to do: --out DIR writes the generated vector files "
              "into DIR (in a checkout: --out conformance/vectors); --check compares the "
              "packaged ones with what the reference generates", file=sys.stderr)
        return EXIT_USAGE
    out_dir: Path = args.out if args.out is not None else packaged_vector_dir()
    if not args.check and out_dir.exists() and not out_dir.is_dir():
        print(f"privtrak vectors: --out {out_dir} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    rendered = render_all()
    files = sum(name.endswith(".json") for name in rendered)
    cases = sum(text.count('\n    {\n') for text in rendered.values())
    if args.check:
        bad = differing(out_dir, rendered)
        for name in bad:
            print(f"privtrak vectors: {out_dir / name} is missing or out of date; run "
                  "`privtrak vectors --out DIR` and commit the result", file=sys.stderr)
        if not bad:
            print(f"{files} vector files ({cases} cases) in {out_dir} are up to date")
        return 1 if bad else 0
    try:
        write_all(out_dir, rendered)
    except OSError as exc:
        print(f"privtrak vectors: cannot write into {out_dir}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {files} vector files ({cases} cases) and their SHA256SUMS to {out_dir}")
    return 0


vectors = Subcommand(add_vectors_arguments, run_vectors_command)
"""``privtrak vectors``."""


# -- privtrak adapter ----------------------------------------------------------------


def add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``privtrak adapter``."""
    parser.add_argument("--model", action="store_true",
                        help="serve the normative model (privtrak.reference.model) instead "
                             "of the fast Tracker: 'conform --adapter \'privtrak adapter "
                             "--model\'' checks it against every vector, 'conform fuzz' "
                             "compares it with the Tracker")
    parser.add_argument("--mutant", metavar="NAME", default=None,
                        help="serve a deliberately broken variant of the reference instead "
                             "(see --list-mutants)")
    parser.add_argument("--list-mutants", action="store_true",
                        help="print the mutants' names and what each one breaks, then exit")


def run_adapter(args: argparse.Namespace) -> int:
    """Serve the reference (or a mutant) on stdin/stdout, or list the mutants."""
    from privtrak import __version__  # noqa: PLC0415

    from ._adapter import ALL_FEATURES, AdapterInfo, serve  # noqa: PLC0415

    if args.model and (args.mutant is not None or args.list_mutants):
        print("privtrak adapter: --model serves the normative model; it cannot be combined "
              "with --mutant or --list-mutants", file=sys.stderr)
        return EXIT_USAGE
    if args.model:
        from ._model_execution import MODEL_INFO, ModelExecution  # noqa: PLC0415

        return serve(ModelExecution, MODEL_INFO)
    if args.mutant is None and not args.list_mutants:
        from ._execute import Execution  # noqa: PLC0415

        return serve(Execution)
    from ._mutants import MUTANTS, describe  # noqa: PLC0415

    if args.list_mutants:
        width = max(map(len, MUTANTS))
        for name in MUTANTS:
            print(f"{name:{width}}  {describe(name)}")
        return 0
    if args.mutant not in MUTANTS:
        print(f"privtrak adapter: unknown mutant {args.mutant!r}"
              f"{did_you_mean(args.mutant, MUTANTS)}; `privtrak adapter --list-mutants` "
              "lists them", file=sys.stderr)
        return EXIT_USAGE
    info = AdapterInfo(f"mutant:{args.mutant}", __version__, ALL_FEATURES)
    return serve(MUTANTS[args.mutant], info)


adapter = Subcommand(add_adapter_arguments, run_adapter)
"""``privtrak adapter``."""
