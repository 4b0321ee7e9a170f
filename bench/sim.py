"""Speed and memory of the swarm simulator; prints one JSON document.

Usage::

    python bench/sim.py                      # 10k and 100k clients, one simulated hour each
    python bench/sim.py --clients 10000 --duration 2h

For each client count a fresh child process (so peak memory is its own)
builds the shipped ``default`` scenario scaled to that many clients (users,
torrents and the arrival rate grow in proportion; everything else, tracker
included, stays as shipped), runs it, and then, in the same process, runs a
bare SimPy loop: as many processes as clients, each only waiting on
timeouts, with as many timeout events in total as the simulation accounted
announces. Figures per client count:

* ``announces_per_second``: announces accounted by the reference core per
  wall-clock second of ``privtrak.sim.run`` (scenario setup, population,
  the run and the final accounting all included);
* ``steady_announces_per_second`` (and per CPU second): the same rate
  measured only between progress marks from a tenth of the run to its end,
  so the one-off cost of building the population is left out;
* ``bare_simpy_timeouts_per_second`` and ``ratio_vs_bare_simpy``: the
  simulation's announce rate divided by the bare loop's timeout rate (1.0
  would mean an announce costs no more than one bare SimPy timeout);
* ``simpy_events_scheduled`` (every event the simulation's environment
  scheduled) and ``simpy_events_per_announce``;
* ``peak_rss_bytes_per_client``: the growth of the child's peak resident set
  size (``getrusage(RUSAGE_SELF).ru_maxrss``) from just before the
  simulation is built to just after it finished, divided by the number of
  clients (the population). This is real process memory, Python objects of
  the simulator and the reference core included, not the modelled memory of
  the simulated tracker;
* ``wall_seconds``, ``cpu_seconds`` (``time.process_time``) and
  ``simulated_seconds``; the ``*_cpu*`` figures repeat the rates on CPU time,
  which other load on the machine disturbs much less than wall time.

Targets (issue #4): >= 50,000 announces/s at 100k clients, ratio >= 0.5,
<= 1.5 KiB per client, one simulated hour of 100k clients well under a minute.
The figures depend on the machine; nothing here is asserted.
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
from collections.abc import Generator
from typing import Any

import simpy
import yaml

from privtrak.sim import Simulation, builtin_scenario_text, collect, parse_scenario

TARGETS = {
    "announces_per_second_at_100k": 50_000,
    "ratio_vs_bare_simpy": 0.5,
    "peak_rss_bytes_per_client": 1536,
    "hour_of_100k_clients_wall_seconds": 60,
}


def scaled_scenario(clients: int, duration: float) -> Any:
    """The shipped default scenario scaled to ``clients`` running sessions."""
    raw = yaml.safe_load(builtin_scenario_text("default"))
    work = raw["workload"]
    base_clients = work["population"]
    scale = clients / base_clients
    work["population"] = clients
    work["users"] = max(1, round(work["users"] * scale))
    work["torrents"] = max(1, round(work["torrents"] * scale))
    work["arrivals"]["rate"] = work["arrivals"]["rate"] * scale
    raw["duration"] = duration
    raw["name"] = f"bench-{clients}"
    return parse_scenario(raw)


def bare_simpy(timeouts: int, processes: int, period: float) -> tuple[float, float]:
    """(wall, CPU) seconds of a SimPy run with ``timeouts`` timeout events spread over
    ``processes`` processes (each waits ``period`` between timeouts, phases
    spread evenly), nothing else."""
    env = simpy.Environment()
    processes = max(1, min(processes, timeouts))
    per, extra = divmod(timeouts, processes)
    step = period / processes

    def loop(first: float, count: int) -> Generator[Any, Any, None]:
        yield env.timeout(first)
        for _ in range(count - 1):
            yield env.timeout(period)

    for i in range(processes):
        count = per + (i < extra)
        if count:
            env.process(loop(i * step, count))
    t0, c0 = time.perf_counter(), time.process_time()
    env.run()
    return time.perf_counter() - t0, time.process_time() - c0


def measure(clients: int, duration: float) -> dict[str, Any]:
    """One child's measurement (see the module docstring)."""
    scenario = scaled_scenario(clients, duration)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    marks: list[tuple[float, float, float, int]] = []
    holder: list[Simulation] = []

    def mark(simulated: float) -> None:
        marks.append((simulated, time.perf_counter(), time.process_time(),
                      holder[0].announces_accounted))

    t0, c0 = time.perf_counter(), time.process_time()
    sim = Simulation(scenario, on_progress=mark)
    holder.append(sim)
    sim.run()
    result = collect(sim)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    announces = int(result.summary["announces_accounted"])
    # SimPy numbers every scheduled event from one counter (Environment._eid).
    events = next(sim.env._eid)
    interval = scenario.workload.announce_interval
    # Steady state: from the first progress mark past a tenth of the run
    # (population and warm start done) to the last mark.
    steady = [m for m in marks if m[0] >= duration / 10]
    steady_rate = steady_cpu_rate = None
    if len(steady) >= 2:
        (_, w0, cp0, a0), (_, w1, cp1, a1) = steady[0], steady[-1]
        steady_rate = round((a1 - a0) / (w1 - w0))
        steady_cpu_rate = round((a1 - a0) / (cp1 - cp0))
    holder.clear()
    del sim, result
    gc.collect()
    bare_wall, bare_cpu = bare_simpy(announces, clients, interval)
    return {
        "clients": clients,
        "simulated_seconds": duration,
        "announces": announces,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "announces_per_second": round(announces / wall),
        "announces_per_cpu_second": round(announces / cpu),
        "steady_announces_per_second": steady_rate,
        "steady_announces_per_cpu_second": steady_cpu_rate,
        "simpy_events_scheduled": events,
        "simpy_events_per_announce": round(events / announces, 3) if announces else None,
        "bare_simpy_timeouts": announces,
        "bare_simpy_wall_seconds": round(bare_wall, 3),
        "bare_simpy_cpu_seconds": round(bare_cpu, 3),
        "bare_simpy_timeouts_per_second": round(announces / bare_wall),
        "ratio_vs_bare_simpy": round(bare_wall / wall, 3),
        "ratio_vs_bare_simpy_cpu": round(bare_cpu / cpu, 3),
        "peak_rss_growth_bytes": rss_after - rss_before,
        "peak_rss_bytes_per_client": round((rss_after - rss_before) / clients, 1),
    }


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def main(argv: list[str] | None = None) -> int:
    """Run the children and print the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10000,100000",
                        help="comma-separated client counts (default: 10000,100000)")
    parser.add_argument("--duration", default="1h", help="simulated time per run (default 1h)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    duration = _parse_duration(args.duration)
    counts = [int(c) for c in args.clients.split(",") if c]
    if args.child:
        print(json.dumps(measure(counts[0], duration)))
        return 0
    runs = []
    for clients in counts:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--clients", str(clients),
             "--duration", str(duration)],
            check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    by_clients = {r["clients"]: r for r in runs}
    big = by_clients.get(100_000)
    doc: dict[str, Any] = {
        "benchmark": "privtrak.sim",
        "command": " ".join(["python bench/sim.py", *(sys.argv[1:] if argv is None else argv)]),
        "python": platform.python_version(),
        "memory_measure": "getrusage ru_maxrss growth across the run, per population client",
        "runs": runs,
        "targets": TARGETS,
    }
    if big is not None and duration == 3600:
        doc["hour_of_100k_clients_wall_seconds"] = big["wall_seconds"]
        doc["targets_met"] = {
            "announces_per_second_at_100k": big["announces_per_second"]
            >= TARGETS["announces_per_second_at_100k"],
            "ratio_vs_bare_simpy": all(r["ratio_vs_bare_simpy"] >= TARGETS["ratio_vs_bare_simpy"]
                                       for r in runs),
            "peak_rss_bytes_per_client": all(
                r["peak_rss_bytes_per_client"] <= TARGETS["peak_rss_bytes_per_client"]
                for r in runs),
            "hour_of_100k_clients_wall_seconds": big["wall_seconds"]
            < TARGETS["hour_of_100k_clients_wall_seconds"],
        }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
