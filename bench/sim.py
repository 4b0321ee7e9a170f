"""Speed and memory of the swarm simulator; prints one JSON document.

Usage::

    python bench/sim.py                       # 100k and 1M clients, one simulated hour each
    python bench/sim.py --clients 10000 --duration 2h
    python bench/sim.py --no-split            # skip the CPU split runs

For each client count a fresh child process (so peak memory is its own)
builds the shipped ``default`` scenario scaled to that many clients (users,
torrents and the arrival rate grow in proportion; everything else, tracker
included, stays as shipped) and runs it. A progress line goes to stderr.
Figures per client count:

* ``announces_per_cpu_second`` (and ``announces_per_second`` on wall
  time): announces accounted by the reference core during the run, per
  CPU second (``time.process_time``) of the whole simulation: building the
  population and the warm start, the run, and collecting the results;
* ``steady_announces_per_cpu_second``: the same rate between progress
  marks from a tenth of the run to its end (population setup left out);
* ``setup_cpu_seconds``: CPU time until the first progress mark;
* ``simpy_events_scheduled`` and ``simpy_events_per_announce``: every event
  the run's environment scheduled, counted by the simulator's own
  environment (``SimEnvironment.events_scheduled``, counted in SimPy's
  public ``schedule`` method);
* ``peak_rss_bytes_per_client``: the growth of the child's peak resident set
  size (``getrusage(RUSAGE_SELF).ru_maxrss``) from just before the
  simulation is built to just after its results are collected, divided by
  the number of clients (the population). This is the memory of this
  Python process (simulator and reference core objects), not the modelled
  memory of the simulated tracker;
* ``database_calls`` and ``records_per_call``: the load the run put on the
  database model.

``cpu_split`` (client counts up to 100k, unless ``--no-split``): a second
child runs the same scenario with the three parts wrapped in timers
(``time.perf_counter_ns`` around every call): building the request
(``RequestPath.build_request``), the core's announce
(``RequestPath.core_announce``, warm-start announces included) and the
database model (``Database.plan_call`` and ``Database.commit``). The
``driver`` is the rest of the run: the clients, the request path's
bookkeeping, hook modes, flusher, SimPy, the timers' own overhead. Each
part is given as a share of the timed run's elapsed time, and as CPU
microseconds per accounted announce (the share times the timed run's CPU
time, divided by its announces). The timed run is slower than the plain one; the shares
say where the time goes, the plain run says how fast.

Targets (issue 7): >= 60,000 announces per CPU second at 100k clients,
<= 1 KiB peak RSS per client at 1M clients, <= 1.2 SimPy events per
announce. The figures depend on the machine; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from privtrak.sim import Simulation, builtin_scenario_text, collect, parse_scenario

TARGETS = {
    "announces_per_cpu_second_at_100k": 60_000,
    "peak_rss_bytes_per_client_at_1m": 1024,
    "simpy_events_per_announce": 1.2,
}


def scaled_scenario(clients: int, duration: float) -> Any:
    """The shipped default scenario scaled to ``clients`` running sessions."""
    raw = yaml.safe_load(builtin_scenario_text("default"))
    work = raw["workload"]
    scale = clients / work["population"]
    work["population"] = clients
    work["users"] = max(1, round(work["users"] * scale))
    work["torrents"] = max(1, round(work["torrents"] * scale))
    work["arrivals"]["rate"] = work["arrivals"]["rate"] * scale
    raw["duration"] = duration
    raw["name"] = f"bench-{clients}"
    return parse_scenario(raw)


class Progress:
    """Progress marks of one run, and the progress line on stderr."""

    def __init__(self, clients: int, duration: float, label: str) -> None:
        self.clients, self.duration, self.label = clients, duration, label
        self.marks: list[tuple[float, float, float, int]] = []
        self.sim: Simulation | None = None

    def __call__(self, simulated: float) -> None:
        assert self.sim is not None
        announces = self.sim.announces_accounted
        self.marks.append((simulated, time.perf_counter(), time.process_time(), announces))
        print(f"\r{self.label} {self.clients:,} clients: {simulated:,.0f}/{self.duration:,.0f} "
              f"simulated s, {announces:,} announces, {time.process_time():.1f} s CPU   ",
              end="", file=sys.stderr, flush=True)


def measure(clients: int, duration: float) -> dict[str, Any]:
    """One child's plain measurement (see the module docstring)."""
    scenario = scaled_scenario(clients, duration)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    progress = Progress(clients, duration, "run")
    t0, c0 = time.perf_counter(), time.process_time()
    sim = Simulation(scenario, on_progress=progress)
    progress.sim = sim
    sim.run()
    result = collect(sim)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(file=sys.stderr)
    announces = int(result.summary["announces_accounted"])
    events = sim.env.events_scheduled
    marks = progress.marks
    steady = [m for m in marks if m[0] >= duration / 10]
    steady_rate = steady_cpu_rate = None
    if len(steady) >= 2:
        (_, w0, cp0, a0), (_, w1, cp1, a1) = steady[0], steady[-1]
        steady_rate = round((a1 - a0) / (w1 - w0))
        steady_cpu_rate = round((a1 - a0) / (cp1 - cp0))
    return {
        "clients": clients,
        "simulated_seconds": duration,
        "announces": announces,
        "sessions": result.summary["sessions"],
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "setup_cpu_seconds": round(marks[0][2] - c0, 3) if marks else None,
        "announces_per_second": round(announces / wall),
        "announces_per_cpu_second": round(announces / cpu),
        "steady_announces_per_second": steady_rate,
        "steady_announces_per_cpu_second": steady_cpu_rate,
        "simpy_events_scheduled": events,
        "simpy_events_per_announce": round(events / announces, 3) if announces else None,
        "database_calls": result.database["calls"],
        "records_per_call": result.rates["records_per_call"],
        "peak_rss_growth_bytes": rss_after - rss_before,
        "peak_rss_bytes_per_client": round((rss_after - rss_before) / clients, 1),
    }


class _Timed:
    """Wraps a callable; adds the nanoseconds of every call to ``ns``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.ns = 0
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        t = time.perf_counter_ns()
        try:
            return self.fn(*args)
        finally:
            self.ns += time.perf_counter_ns() - t
            self.calls += 1


def measure_split(clients: int, duration: float) -> dict[str, Any]:
    """One child's CPU split (see the module docstring)."""
    scenario = scaled_scenario(clients, duration)
    progress = Progress(clients, duration, "split")
    sim = Simulation(scenario, on_progress=progress)
    progress.sim = sim
    path, db = sim.request_path, sim.delivery.db
    build = _Timed(path.build_request)
    core = _Timed(path.core_announce)
    plan, commit = _Timed(db.plan_call), _Timed(db.commit)
    path.build_request = build
    path.core_announce = core
    db.plan_call = plan  # type: ignore[method-assign]
    db.commit = commit  # type: ignore[method-assign]
    t0, c0 = time.perf_counter_ns(), time.process_time()
    sim.run()
    total_ns, cpu = time.perf_counter_ns() - t0, time.process_time() - c0
    print(file=sys.stderr)
    announces = sim.announces_accounted
    parts = {"building_the_request": build.ns, "core_announce": core.ns,
             "database_model": plan.ns + commit.ns}
    parts["driver"] = total_ns - sum(parts.values())
    return {
        "clients": clients,
        "method": ("a separate timed run: perf_counter_ns around every call of "
                   "RequestPath.build_request, RequestPath.core_announce (warm start "
                   "included) and Database.plan_call/commit; driver = the rest of the run "
                   "(clients, request-path bookkeeping, hooks, flusher, SimPy, timer "
                   "overhead); share = part time / the run's elapsed time; CPU per announce "
                   "= share x the run's CPU time / announces accounted"),
        "timed_run_cpu_seconds": round(cpu, 3),
        "announces": announces,
        "calls": {"building_the_request": build.calls, "core_announce": core.calls,
                  "database_model": plan.calls},
        "largest_part": max(parts, key=lambda k: parts[k]),
        "share": {k: round(v / total_ns, 3) for k, v in parts.items()},
        "cpu_microseconds_per_announce": {
            k: round(v / total_ns * cpu * 1e6 / announces, 2) for k, v in parts.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the children and print the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="100000,1000000",
                        help="comma-separated client counts (default: 100000,1000000)")
    parser.add_argument("--duration", default="3600",
                        help="simulated seconds per run (default 3600)")
    parser.add_argument("--no-split", action="store_true", help="skip the CPU split runs")
    parser.add_argument("--child", choices=("run", "split"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    duration = float(args.duration)
    counts = [int(c) for c in args.clients.split(",") if c]
    if args.child:
        fn = measure if args.child == "run" else measure_split
        print(json.dumps(fn(counts[0], duration)))
        return 0

    def child(kind: str, clients: int) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--clients", str(clients),
             "--duration", str(duration)],
            check=True, stdout=subprocess.PIPE, text=True)
        data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return data

    runs = [child("run", clients) for clients in counts]
    splits = [] if args.no_split else [child("split", c) for c in counts if c <= 100_000]
    by_clients = {r["clients"]: r for r in runs}
    doc: dict[str, Any] = {
        "benchmark": "privtrak.sim",
        "command": " ".join(["python bench/sim.py", *(sys.argv[1:] if argv is None else argv)]),
        "python": platform.python_version(),
        "memory_measure": ("getrusage ru_maxrss growth across the run, per population "
                           "client: this process, not the modelled tracker"),
        "runs": runs,
        "cpu_split": splits,
        "targets": TARGETS,
    }
    met: dict[str, bool] = {}
    if duration == 3600 and 100_000 in by_clients:
        met["announces_per_cpu_second_at_100k"] = (
            by_clients[100_000]["announces_per_cpu_second"]
            >= TARGETS["announces_per_cpu_second_at_100k"])
    if duration == 3600 and 1_000_000 in by_clients:
        met["peak_rss_bytes_per_client_at_1m"] = (
            by_clients[1_000_000]["peak_rss_bytes_per_client"]
            <= TARGETS["peak_rss_bytes_per_client_at_1m"])
    met["simpy_events_per_announce"] = all(
        r["simpy_events_per_announce"] is not None
        and r["simpy_events_per_announce"] <= TARGETS["simpy_events_per_announce"] for r in runs)
    doc["targets_met"] = met
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
