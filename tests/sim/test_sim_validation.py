"""Validation of the swarm simulator against closed forms (issue #4, section 5).

Each statistical test runs a small scenario over independent replications
(seeds 1..5: every random stream of the simulator is seeded from the
scenario seed) and checks that the theoretical value lies in the Student t
confidence interval of the replication means (99 %; the seeds are fixed, so
the outcome is deterministic). Where it matters the test also checks that
the interval is narrow enough to tell the right answer from a plausible
wrong one (M/M/1 from M/D/1, ``batch_size`` from ``batch_size + 1``).

Conservation (ground truth == credited + pending + returned + unreported +
lost by cause) is checked exactly in every run made here, against a ground
truth recomputed from the virtual clients themselves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_theory import (
    Interval,
    confidence_interval,
    flush_rate,
    md1_in_system,
    md1_wait,
    mean_buffered,
    mm1_in_system,
    mm1_wait,
)

from privtrak.sim import (
    LOSS_CAUSES,
    SCENARIO_NAMES,
    Scenario,
    Simulation,
    SimulationResult,
    builtin_scenario_text,
    collect,
    parse_scenario,
)

LEVEL = 0.99
SEEDS = (1, 2, 3, 4, 5)


# -- running, with conservation checked in every run ----------------------------


@dataclass
class Run:
    """A finished simulation and its results."""

    sim: Simulation
    result: SimulationResult
    extra: Any = None


def simulate(scenario: Scenario,
             attach: Callable[[Simulation], Any] | None = None) -> Run:
    """Run ``scenario``; ``attach(sim)`` may add SimPy processes before the run
    (its return value is kept in ``Run.extra``). Conservation is asserted."""
    sim = Simulation(scenario)
    sessions = _record_sessions(sim)
    extra = attach(sim) if attach is not None else None
    sim.run()
    result = collect(sim)
    assert_conserved(sim, result, sessions)
    return Run(sim, result, extra)


def _record_sessions(sim: Simulation) -> list[Any]:
    """Keep every session the simulation creates (for the ground truth)."""
    made: list[Any] = []
    factory = sim.factory
    new, restart = factory.new, factory.restart

    def new_session(*args: Any, **kwargs: Any) -> Any:
        s = new(*args, **kwargs)
        made.append(s)
        return s

    def restarted_session(*args: Any, **kwargs: Any) -> Any:
        s = restart(*args, **kwargs)
        made.append(s)
        return s

    factory.new = new_session  # type: ignore[method-assign]
    factory.restart = restarted_session  # type: ignore[method-assign]
    return made


def assert_conserved(sim: Simulation, result: SimulationResult, sessions: list[Any]) -> None:
    """transferred == credited + pending + returned + unreported + lost.*, per
    direction, exactly; and ``transferred`` equals the bytes the virtual
    clients really moved, summed here from the clients themselves."""
    rows = result.accounting["rows"]
    parts = ("credited", "pending", "returned", "unreported",
             *(f"lost.{c}" for c in LOSS_CAUSES))
    assert set(rows) >= {"transferred", *parts}
    for d in ("up", "down"):
        total = sum(int(rows[p][d]) for p in parts)
        assert int(rows["transferred"][d]) == total, (
            f"{d}: transferred {rows['transferred'][d]} != sum of rows {total}: {rows}")
    assert result.conserved
    assert len(sessions) == result.summary["sessions"], "a session escaped the count"
    end = sim.end_time
    truth_up = truth_down = 0
    for s in sessions:
        up, down = s.truth(min(end, s.t_end))
        truth_up += up
        truth_down += down
    assert result.row("transferred") == (truth_up, truth_down)
    # The core's own ledger splits what it credited exactly (R11).
    lg = sim.tracker.ledger()
    assert lg.credited_up == lg.delivered_up + lg.dropped_up + lg.returned_up + lg.pending_up


def replicate(make: Callable[[int], Scenario],
              attach: Callable[[Simulation], Any] | None = None) -> list[Run]:
    """One run per seed in SEEDS."""
    return [simulate(make(seed), attach) for seed in SEEDS]


def interval(values: list[float]) -> Interval:
    """The LEVEL confidence interval of the replication means."""
    return confidence_interval(values, LEVEL)


# -- a shard lock under Poisson arrivals -------------------------------------------

LAMBDA = 0.7
"""Announces per second offered to the single shard lock; service rate is 1/s."""
CUSTOMERS = 16_000
"""Expected announces per replication."""


def single_queue(service: dict[str, Any]) -> Callable[[int], Scenario]:
    """A tracker with one shard whose lock sees exactly a Poisson stream.

    Sessions arrive as a Poisson process and send ``started``; nothing else
    happens within the run (no regular announce, download, end, restart or
    purge: the interval and lifetimes exceed the duration), and no client
    times out. Offpath delivery, so a flush never holds the lock.
    """
    def make(seed: int) -> Scenario:
        duration = CUSTOMERS / LAMBDA
        return parse_scenario({
            "seed": seed, "duration": duration, "bucket": duration / 20,
            "hook_mode": "offpath",
            "tracker": {"preset": "recommended", "shard_count": 1, "gc_interval": "1000h",
                        "peer_lifetime": "1000h"},
            "tracker_model": {"service_time": service, "client_timeout": 1e7},
            "workload": {"users": 200, "torrents": 20, "population": 0,
                         "arrivals": {"rate": LAMBDA}, "announce_interval": 1e8, "jitter": 0,
                         "leecher_fraction": 0, "seeding_time": 1e9, "vanish_fraction": 0,
                         "restart_fraction": 0},
        })
    return make


def occupancy_sampler(rate: float) -> Callable[[Simulation], list[int]]:
    """Attach a process that samples the number of announces at shard 0's lock
    (waiting plus in service) at Poisson instants: by PASTA the sample mean
    estimates the time-average L without going through the simulator's own
    sojourn bookkeeping. Reads the request path's public occupancy figure."""
    def attach(sim: Simulation) -> list[int]:
        samples: list[int] = []
        rng = random.Random(sim.scenario.seed)
        path = sim.request_path
        env = sim.env

        def sample() -> Generator[Any, Any, None]:
            while True:
                yield env.timeout(rng.expovariate(rate))
                samples.append(path.occupancy(0, env.now))

        env.process(sample())
        return samples
    return attach


@pytest.fixture(scope="module")
def mm1_runs() -> list[Run]:
    return replicate(single_queue({"exponential": {"mean": 1}}), occupancy_sampler(1.0))


@pytest.fixture(scope="module")
def md1_runs() -> list[Run]:
    return replicate(single_queue({"constant": 1}), occupancy_sampler(1.0))


def _queue_figures(runs: list[Run]) -> dict[str, Interval]:
    q = [r.result.queueing for r in runs]
    for one in q:
        assert one["shards"] == 1
        assert one["served"] >= one["arrivals"] - 60  # only the last few still queue
    return {
        "rate": interval([x["arrival_rate"] for x in q]),
        "rho": interval([x["utilisation"] for x in q]),
        "wait": interval([x["mean_wait"] for x in q]),
        "in_system": interval([x["mean_in_system"] for x in q]),
        "sampled_in_system": interval([sum(r.extra) / len(r.extra) for r in runs]),
    }


def test_shard_lock_under_poisson_arrivals_with_exponential_service_is_mm1(
        mm1_runs: list[Run]) -> None:
    f = _queue_figures(mm1_runs)
    assert f["rate"].contains(LAMBDA), f["rate"]
    assert f["rho"].contains(LAMBDA), f["rho"]
    assert f["wait"].contains(mm1_wait(LAMBDA, 1.0)), f["wait"]
    assert f["in_system"].contains(mm1_in_system(LAMBDA, 1.0)), f["in_system"]
    assert f["sampled_in_system"].contains(mm1_in_system(LAMBDA, 1.0)), f["sampled_in_system"]
    # Narrow enough to reject deterministic service.
    assert not f["wait"].contains(md1_wait(LAMBDA, 1.0))
    assert not f["sampled_in_system"].contains(md1_in_system(LAMBDA, 1.0))


def test_shard_lock_under_poisson_arrivals_with_constant_service_is_md1(
        md1_runs: list[Run]) -> None:
    f = _queue_figures(md1_runs)
    assert f["rho"].contains(LAMBDA), f["rho"]
    assert f["wait"].contains(md1_wait(LAMBDA, 1.0)), f["wait"]
    assert f["in_system"].contains(md1_in_system(LAMBDA, 1.0)), f["in_system"]
    assert f["sampled_in_system"].contains(md1_in_system(LAMBDA, 1.0)), f["sampled_in_system"]
    assert not f["wait"].contains(mm1_wait(LAMBDA, 1.0))
    assert not f["sampled_in_system"].contains(mm1_in_system(LAMBDA, 1.0))


# -- Little's law on the whole simulated tracker -----------------------------------------


def seed_tracker_with_slow_database(seed: int) -> Scenario:
    """The seed's prehook path: a full shard buffer is delivered under the
    shard lock, and the database is slow, so announces queue behind flushes."""
    return parse_scenario({
        "seed": seed, "duration": "2h", "bucket": "5s", "hook_mode": "prehook",
        "tracker": {"preset": "seed", "shard_count": 4, "batch_size": 32},
        "tracker_model": {"service_time": {"exponential": {"mean": "1ms"}}},
        "workload": {"users": 400, "torrents": 50, "population": 2000,
                     "arrivals": {"rate": 0.2}, "announce_interval": "10m", "jitter": "30s"},
        "database": {"connections": 2, "latency": {"base": "3s", "per_record": "50ms"}},
    })


def test_littles_law_on_the_simulated_tracker() -> None:
    """Mean announces in flight (the series' sampled gauge) equals throughput
    times mean time in the tracker (the queueing figures), per replication."""
    runs = replicate(seed_tracker_with_slow_database)
    in_flight, product, gap = [], [], []
    for run in runs:
        series, q = run.result.series, run.result.queueing
        mean_in_flight = sum(row["in_flight_requests"] for row in series) / len(series)
        lw = q["arrival_rate"] * q["mean_sojourn"]
        in_flight.append(mean_in_flight)
        product.append(lw)
        gap.append(mean_in_flight - lw)
        assert run.result.summary["handler_calls"] > 500
    gap_ci = interval(gap)
    assert gap_ci.contains(0.0), gap_ci
    # Not a vacuous agreement: announces really queue behind the flushes,
    # and the agreement is tight relative to the quantity itself.
    level = interval(in_flight)
    assert level.mean > 1.0, level
    assert gap_ci.half_width < 0.05 * level.mean, (gap_ci, level)


# -- batching under size-only flushing ------------------------------------------------

CLIENTS, INTERVAL, BATCH, SHARDS = 1000, 150.0, 16, 32
WARM_UP = 300.0
"""Every client has announced (and set its baseline) by then."""


def seed_size_only_batching(seed: int) -> Scenario:
    """The seed preset (size-only flushing) with a steady population of seeders
    that never leave: from the second interval on every announce carries a
    non-zero delta, so the delta rate is exactly CLIENTS / INTERVAL."""
    return parse_scenario({
        "seed": seed, "duration": "1h", "bucket": "10s", "hook_mode": "prehook",
        "tracker": {"preset": "seed", "shard_count": SHARDS, "batch_size": BATCH},
        "workload": {"users": 500, "torrents": 50, "population": CLIENTS,
                     "arrivals": {"rate": 0}, "announce_interval": INTERVAL, "jitter": "10s",
                     "leecher_fraction": 0, "seeding_time": "1000h", "vanish_fraction": 0,
                     "restart_fraction": 0},
    })


@pytest.fixture(scope="module")
def batching_runs() -> list[Run]:
    return replicate(seed_size_only_batching)


def _steady(run: Run) -> tuple[list[dict[str, Any]], float]:
    rows = [row for row in run.result.series if row["t_start"] >= WARM_UP]
    return rows, rows[-1]["t_end"] - rows[0]["t_start"]


def test_flush_rate_is_delta_rate_over_batch_size(batching_runs: list[Run]) -> None:
    delta_rate, calls_rate = [], []
    for run in batching_runs:
        rows, span = _steady(run)
        delta_rate.append(sum(row["records_credited"] for row in rows) / span)
        calls_rate.append(sum(row["handler_calls"] for row in rows) / span)
        assert run.result.summary["handler_failures"] == 0
    deltas, flushes = interval(delta_rate), interval(calls_rate)
    assert deltas.contains(CLIENTS / INTERVAL), deltas
    assert flushes.contains(flush_rate(CLIENTS / INTERVAL, BATCH)), flushes
    assert not flushes.contains(flush_rate(CLIENTS / INTERVAL, BATCH + 1))
    assert not flushes.contains(flush_rate(CLIENTS / INTERVAL, BATCH - 1))


def test_mean_buffered_deltas_is_shards_times_half_a_batch(batching_runs: list[Run]) -> None:
    means = []
    for run in batching_runs:
        rows, _ = _steady(run)
        means.append(sum(row["buffered_deltas"] for row in rows) / len(rows))
    buffered = interval(means)
    assert buffered.contains(mean_buffered(SHARDS, BATCH)), buffered
    assert not buffered.contains(mean_buffered(SHARDS, BATCH + 1))
    assert not buffered.contains(SHARDS * BATCH / 2)


# -- conservation -------------------------------------------------------------------------


def small_builtin(name: str) -> Scenario:
    """A shipped scenario cut down to a few hundred clients and at most 2 h."""
    raw = yaml.safe_load(builtin_scenario_text(name))
    work = raw.setdefault("workload", {})
    scale = min(1.0, 400 / max(1, int(work.get("population", 5000))))
    work["population"] = max(1, round(work.get("population", 5000) * scale))
    work["users"] = max(1, round(work.get("users", 2000) * scale))
    work["torrents"] = max(1, round(work.get("torrents", 500) * scale))
    arrivals = work.get("arrivals") or {}
    if "rate" in arrivals:
        arrivals["rate"] = arrivals["rate"] * scale
    flash = work.get("flash_crowd")
    if flash and "initial_rate" in flash:
        flash["initial_rate"] = flash["initial_rate"] * scale
    scenario = parse_scenario(raw)
    return scenario.with_overrides(duration=min(scenario.duration, 7200.0))


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_conservation_holds_exactly_in_every_shipped_scenario(name: str) -> None:
    run = simulate(small_builtin(name))
    transferred = run.result.row("transferred")
    assert transferred[0] > 0
    assert run.result.summary["announces_accounted"] > 0


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Small scenarios that stress every loss path: failures, outages, lost
    acknowledgements, restarts, vanishing and doubled clients, purges, full
    queues, both presets, all hook modes, with or without a final stop."""
    preset = draw(st.sampled_from(["seed", "recommended"]))
    interval_s = draw(st.integers(120, 1800))
    tracker: dict[str, Any] = {
        "preset": preset,
        "shard_count": draw(st.integers(1, 8)),
        "batch_size": draw(st.integers(1, 40)),
        "gc_interval": draw(st.integers(30, 600)),
        "peer_lifetime": draw(st.integers(60, 2 * interval_s + 600)),
    }
    if preset == "recommended":
        tracker["max_pending"] = draw(st.sampled_from([5, 50, 1000, "off"]))
        tracker["max_batch_age"] = draw(st.sampled_from([1, 10, "off"]))
        tracker["failed_batch"] = draw(st.sampled_from(["merge", "retain"]))
        tracker["stop_undelivered"] = draw(st.sampled_from(["drop", "return"]))
    p_fail = draw(st.sampled_from([0.0, 0.05, 0.3]))
    p_after = draw(st.sampled_from([0.0, 0.05, 0.2]))
    outages = draw(st.lists(st.fixed_dictionaries({
        "start": st.integers(0, 5000), "duration": st.integers(10, 900)}), max_size=2))
    population = draw(st.integers(5, 120))
    return parse_scenario({
        "seed": draw(st.integers(0, 2**32)),
        "duration": draw(st.integers(600, 3 * 3600)),
        "bucket": 300,
        "hook_mode": draw(st.sampled_from(["prehook", "posthook", "offpath"])),
        "tracker": tracker,
        "tracker_model": {
            "service_time": {"exponential": {"mean": draw(st.sampled_from([1e-4, 0.05, 2.0]))}},
            "client_timeout": draw(st.sampled_from([1, 5, 30])),
            "retry_delay": draw(st.sampled_from([1, 15])),
            "stop_at_end": draw(st.booleans()),
        },
        "workload": {
            "users": draw(st.integers(1, max(1, population // 2))),
            "torrents": draw(st.integers(1, 10)),
            "population": population,
            "arrivals": {"rate": draw(st.sampled_from([0.0, 0.01, 0.05]))},
            "announce_interval": interval_s,
            "jitter": draw(st.integers(0, interval_s // 4)),
            "late": {"fraction": draw(st.sampled_from([0.0, 0.2])),
                     "delay": {"exponential": {"mean": interval_s}}},
            "second_client_fraction": draw(st.sampled_from([0.0, 0.3])),
            "leecher_fraction": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "size": {"lognormal": {"median": 2e8, "sigma": 1.0}},
            "seeding_time": {"weibull": {"shape": 0.7, "scale": draw(st.integers(300, 7200))}},
            "vanish_fraction": draw(st.sampled_from([0.0, 0.3])),
            "restart_fraction": draw(st.sampled_from([0.0, 0.3])),
            "rejoin_gap": {"exponential": {"mean": 300}},
        },
        "database": {
            "connections": draw(st.integers(1, 3)),
            "latency": {"base": draw(st.sampled_from([0.001, 0.5, 5.0])), "per_record": 0.001},
            "failure_probability": p_fail,
            "failure_after_commit_probability": p_after,
            "outages": outages,
            "dedup_batches": draw(st.booleans()),
        },
    })


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_conservation_holds_exactly_under_random_scenarios(scenario: Scenario) -> None:
    simulate(scenario)


def test_conservation_cases_are_not_vacuous() -> None:
    """The loss paths the random scenarios aim at are really reached."""
    seen: dict[str, int] = {}

    def runs() -> Iterator[Run]:
        for seed in range(3):
            yield simulate(parse_scenario({
                "seed": seed, "duration": "3h", "hook_mode": "prehook",
                "tracker": {"preset": "recommended", "shard_count": 2, "batch_size": 4,
                            "peer_lifetime": 900, "max_pending": 40},
                "tracker_model": {"client_timeout": 5, "stop_at_end": True},
                "workload": {"users": 20, "torrents": 5, "population": 80,
                             "arrivals": {"rate": 0.02}, "announce_interval": 600,
                             "late": {"fraction": 0.3}, "vanish_fraction": 0.3,
                             "restart_fraction": 0.3, "second_client_fraction": 0.2,
                             "seeding_time": {"weibull": {"shape": 0.7, "scale": 3600}}},
                "database": {"failure_probability": 0.2,
                             "failure_after_commit_probability": 0.1,
                             # The second outage covers the final stop: batches return.
                             "outages": [{"start": 3000, "duration": 600},
                                         {"start": 10000, "duration": 1800}]},
            }))

    for run in runs():
        for name, row in run.result.accounting["rows"].items():
            if row["up"] or row["down"]:
                seen[name] = seen.get(name, 0) + 1
    for name in ("credited", "returned", "lost.baseline", "lost.reset", "lost.vanished",
                 "lost.purge_gap"):
        assert seen.get(name), f"no run reached {name}: {seen}"
