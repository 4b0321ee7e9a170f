"""``privtrak report [SPEC.yaml | builtin:NAME] --out DIR``: run a capacity study.

``--check DIR`` instead reruns the ``study.yaml`` committed in ``DIR`` and
compares the numbers (``--runs N``: only the N cheapest runs).

Exit status: 0 done (or identical); 1 a check found differences; 2 the
study spec is invalid; 3 the command line asks for something impossible;
130 interrupted (finished runs are cached in ``DIR/.cache``; run the same
command again to resume).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from privtrak._usage import EXIT_INTERRUPTED, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's arguments."""
    parser.add_argument("study", nargs="?", metavar="SPEC.yaml",
                        help="study spec (default: builtin:default, where the database stops "
                             "keeping up); builtin:NAME runs a shipped one (default, "
                             "slow-handler, memory, staleness, accuracy)")
    parser.add_argument("--out", metavar="DIR", help="report folder (report.md, report.html, "
                        "figures/, data/)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="local worker processes (default: all cores)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run the simulations on the Dask cluster at ADDRESS "
                             "(tcp://host:8786) instead of local processes")
    parser.add_argument("--no-cache", action="store_true",
                        help="simulate every run again (default: reuse DIR/.cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--check", metavar="DIR",
                        help="rerun DIR/study.yaml and compare with the committed numbers")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="with --check: rerun only the N cheapest runs")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status."""
    # Imported here, not at the top: privtrak --help imports every subcommand's module,
    # and these pull in matplotlib.
    from ._execute import Interrupted  # noqa: PLC0415
    from ._spec import StudyError, load_study  # noqa: PLC0415
    from ._study import build_report, check  # noqa: PLC0415

    if args.workers is not None and args.workers < 1:
        print(f"privtrak report: --workers must be at least 1, got {args.workers}",
              file=sys.stderr)
        return EXIT_USAGE
    if args.check is not None:
        if args.study is not None or args.out is not None:
            print("privtrak report: --check DIR takes no SPEC and no --out", file=sys.stderr)
            return EXIT_USAGE
        try:
            problems = check(Path(args.check), runs=args.runs, workers=args.workers)
        except StudyError as exc:
            print(f"privtrak report: {args.check}/study.yaml: {exc}", file=sys.stderr)
            return 2
        for p in problems:
            print(f"privtrak report: {args.check}: {p}", file=sys.stderr)
        if problems:
            return 1
        print(f"{args.check}: the numbers regenerate identically")
        return 0
    if args.runs is not None:
        print("privtrak report: --runs N goes with --check DIR", file=sys.stderr)
        return EXIT_USAGE
    if args.out is None:
        print("privtrak report: --out DIR is required", file=sys.stderr)
        return EXIT_USAGE
    source = args.study or "builtin:default"
    try:
        study = load_study(source)
    except StudyError as exc:
        print(f"privtrak report: {source}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".privtrak-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        print(f"privtrak report: --out {args.out!r} cannot be written: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    command = "privtrak report " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if (
        len(sys.argv) > 1 and sys.argv[1] == "report") else f"privtrak report {source}"
    try:
        outcome = build_report(study, out, workers=args.workers, dask=args.dask,
                               cache=not args.no_cache,
                               progress=not args.no_progress,
                               command=command)
    except Interrupted as exc:
        print(f"privtrak report: {exc}; run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    from ._report import verdict_lines  # noqa: PLC0415

    print("\n".join(verdict_lines(outcome)))
    print(f"wrote {out / 'report.md'} and {out / 'report.html'}")
    return 0
