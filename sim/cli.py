"""``privtrak sim [SCENARIO.yaml] --out DIR [--seed N] [--duration D] [--set K=V ...]``.

Without a scenario file the embedded default runs. ``--set
dotted.key=value`` (repeatable) overrides any scenario key, validated like
the file. The output folder is checked to be writable before anything
runs. A progress bar goes to stderr; the summary to stdout and to
``summary.md``. The first Ctrl-C stops the run at the next progress step,
the second at once; either way what there is gets written (``partial:
true``) and the exit status is 130. A third Ctrl-C abandons the run
without writing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from tqdm import tqdm

from ._engine import Simulation
from ._errors import ScenarioError
from ._run import run as run_scenario
from ._scenario import SCENARIO_NAMES, Scenario, builtin_scenario, load_scenario
from ._units import parse_quantity


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sim`` subcommand's arguments."""
    parser.add_argument("scenario", nargs="?", metavar="SCENARIO.yaml",
                        help="scenario file (default: the embedded default scenario); "
                             f"builtin:NAME runs a shipped one ({', '.join(SCENARIO_NAMES)})")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory for results.json, series.csv and accounting.csv")
    parser.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    parser.add_argument("--duration", metavar="D",
                        help="override the simulated duration: seconds (3600) or a Go "
                             "duration (30m, 2h, 1h30m)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="overrides",
                        help="override one scenario key, e.g. --set workload.population=500 "
                             "--set database.latency.base=500ms (repeatable; the value is "
                             "YAML; validated like the scenario file)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _load(arg: str | None, overrides: list[str]) -> Scenario:
    if arg is None:
        return builtin_scenario("default", overrides)
    if arg.startswith("builtin:"):
        return builtin_scenario(arg.removeprefix("builtin:"), overrides)
    return load_scenario(arg, overrides)


def _parse_duration(text: str) -> float:
    value = parse_quantity("--duration", text, duration=True)
    if value <= 0:
        raise ScenarioError("--duration", text, "must be positive: a number of seconds "
                            "(3600) or a Go duration (30m, 2h)")
    return value


class OutputError(Exception):
    """The output folder cannot be written."""


def check_output_dir(path: str) -> Path:
    """Make sure ``path`` is (or can become) a writable folder, before the run:
    create it and write and remove a probe file. Raises :class:`OutputError`."""
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise OutputError(f"--out {path!r}: exists and is not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".privtrak-sim-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"--out {path!r}: cannot write there: "
                          f"{exc.strerror or exc}") from None
    return d


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    try:
        scenario = _load(args.scenario, args.overrides)
        duration = None if args.duration is None else _parse_duration(args.duration)
        if args.seed is not None and args.seed < 0:
            raise ScenarioError("--seed", args.seed, "must not be negative")
        scenario = scenario.with_overrides(seed=args.seed, duration=duration)
    except ScenarioError as exc:
        where = args.scenario or "the default scenario"
        print(f"privtrak sim: {where}: {exc}", file=sys.stderr)
        return 2
    try:
        out_dir = check_output_dir(args.out)
    except OutputError as exc:
        print(f"privtrak sim: {exc}", file=sys.stderr)
        return 2
    total = round(scenario.duration)
    bar = tqdm(total=total, unit="s", desc=f"sim {scenario.name}",
               file=sys.stderr, disable=args.no_progress or None, dynamic_ncols=True, leave=False)
    done = [0]

    def progress(now: float) -> None:
        step = min(round(now), total) - done[0]
        if step > 0:
            bar.update(step)
            done[0] += step

    sims: list[Simulation] = []

    presses = [0]

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        presses[0] += 1
        if presses[0] == 1:
            for sim in sims:
                sim.interrupt()
            print("\nprivtrak sim: interrupted; finishing the current step and writing what "
                  "there is (Ctrl-C again to stop at once)", file=sys.stderr)
        else:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sim in sims:
                sim.abort()
            print("\nprivtrak sim: stopping now and writing what there is (Ctrl-C again "
                  "to abandon without writing)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    started, cpu0 = time.perf_counter(), time.process_time()
    try:
        result = run_scenario(scenario, on_progress=progress, simulation=sims.append)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
        paths = result.write(out_dir)
    except KeyboardInterrupt:
        print("privtrak sim: abandoned; nothing written", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"privtrak sim: --out {args.out!r}: writing the results failed: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    print(result.summary_text())
    rate = result.summary["announces_accounted"] / cpu if cpu > 0 else 0.0
    print(f"  ran in {wall:.1f} s wall, {cpu:.1f} s CPU ({rate:,.0f} announces per CPU "
          "second; not written to the files)")
    print("wrote " + ", ".join(str(p) for p in paths))
    if result.partial:
        print(f"privtrak sim: INTERRUPTED after {result.simulated_seconds:.0f} of "
              f"{scenario.duration:.0f} simulated seconds; the files hold the partial run",
              file=sys.stderr)
        return 130
    return 0
