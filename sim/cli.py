"""``privtrak sim [SCENARIO.yaml] --out DIR [--seed N] [--duration D]``.

Without a scenario file the embedded default runs. A progress bar goes to
stderr; a short summary to stdout at the end. The first Ctrl-C stops the
run at the next progress step, writes what it has (``partial: true``) and
says so; a second one aborts at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from tqdm import tqdm

from ._engine import Simulation
from ._errors import ScenarioError
from ._results import SimulationResult
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
                        help="override the simulated duration (seconds or 30m, 2h)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _load(arg: str | None) -> Scenario:
    if arg is None:
        return builtin_scenario("default")
    if arg.startswith("builtin:"):
        return builtin_scenario(arg.removeprefix("builtin:"))
    return load_scenario(arg)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    try:
        scenario = _load(args.scenario)
        duration = (None if args.duration is None
                    else parse_quantity("--duration", args.duration, duration=True))
        if args.seed is not None and args.seed < 0:
            raise ScenarioError("--seed", args.seed, "must not be negative")
        scenario = scenario.with_overrides(seed=args.seed, duration=duration)
    except ScenarioError as exc:
        where = args.scenario or "the default scenario"
        print(f"privtrak sim: {where}: {exc}", file=sys.stderr)
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

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sim in sims:
            sim.interrupt()
        print("\nprivtrak sim: interrupted; finishing the current step and writing what "
              "there is (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    started = time.perf_counter()
    try:
        result = run_scenario(scenario, on_progress=progress, simulation=sims.append)
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    wall = time.perf_counter() - started
    paths = result.write(args.out)
    print(_summary(result, wall))
    print("wrote " + ", ".join(str(p) for p in paths))
    if result.partial:
        print(f"privtrak sim: INTERRUPTED after {result.simulated_seconds:.0f} of "
              f"{scenario.duration:.0f} simulated seconds; the files hold the partial run",
              file=sys.stderr)
        return 130
    return 0


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} PiB"


def _summary(r: SimulationResult, wall: float) -> str:
    s, sc = r.summary, r.scenario
    tu, td = r.row("transferred")
    cu, cd = r.row("credited")
    lost = [(name.removeprefix("lost."), r.row(name)) for name in r.accounting["rows"]
            if name.startswith("lost.")]
    lost_text = ", ".join(f"{n} {_bytes(u + d)}" for n, (u, d) in lost if u or d) or "none"
    rate = s["announces_accounted"] / wall if wall > 0 else 0.0
    age = s["max_oldest_undelivered_age"]
    lines = [
        f"{sc['name']}: {sc['hook_mode']}, preset {sc['tracker']['preset']}, seed {sc['seed']}, "
        f"{r.simulated_seconds:.0f} s simulated in {wall:.1f} s ({rate:,.0f} announces/s)",
        f"  announces: {s['announces_offered']} offered, {s['announces_completed']} completed, "
        f"{s['announces_failed']} failed, {s['announces_timed_out']} timed out",
        f"  tracker: peak {s['peak_pending_deltas']} pending deltas, peak {s['peak_tasks']} "
        f"tasks, peak modelled memory {_bytes(s['peak_modelled_memory_bytes'] or 0)}, "
        f"oldest undelivered delta {age if age is not None else 0:.0f} s",
        f"  database: {s['handler_calls']} calls, {s['handler_failures']} failed",
        f"  bytes: transferred {_bytes(tu + td)}, credited {_bytes(cu + cd)}, "
        f"duplicated {_bytes(sum(r.row('duplicated')))}, lost: {lost_text}",
        "  conservation: " + ("exact" if r.conserved
                              else f"BROKEN {r.accounting['conservation']}"),
    ]
    return "\n".join(lines)
