"""Run a scenario and gather its results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ._accounting import final_accounting
from ._engine import Simulation
from ._results import SimulationResult
from ._scenario import Scenario
from ._stability import stability
from ._summary import MEMORY_MEASURES, bytes_breakdown


def run(scenario: Scenario, *, seed: int | None = None, duration: float | None = None,
        on_progress: Callable[[float], None] | None = None,
        simulation: Callable[[Simulation], None] | None = None) -> SimulationResult:
    """Simulate ``scenario`` (with optional seed/duration overrides).

    ``on_progress(simulated_seconds)`` is called every few simulated
    minutes. ``simulation`` receives the :class:`Simulation` before it runs
    (the CLI uses it to interrupt on Ctrl-C). Deterministic: the same
    scenario and seed give the same result.
    """
    sc = scenario.with_overrides(seed=seed, duration=duration)
    sim = Simulation(sc, on_progress=on_progress)
    if simulation is not None:
        simulation(sim)
    sim.run()
    return collect(sim)


def collect(sim: Simulation) -> SimulationResult:
    """The results of a finished :class:`Simulation`."""
    sc = sim.scenario
    span = sim.end_time if sim.end_time > 0 else 1.0
    series = sim.series
    accounted = sim.announces_accounted

    def total(column: str) -> int:
        return sum(int(row[column]) for row in series)  # type: ignore[call-overload]

    def peak(column: str) -> Any:
        values = [row[column] for row in series if row[column] is not None]
        return max(values) if values else None  # type: ignore[type-var]

    offered = total("offered")
    summary = {
        "announces_offered": offered,
        "announces_completed": total("completed"),
        "announces_failed": total("failed"),
        "announces_timed_out": total("timed_out"),
        "announces_rejected": total("rejected"),
        "announces_accounted": accounted,
        "offered_per_second": offered / span,
        "sessions": sim.factory.created,
        "handler_calls": total("handler_calls"),
        "handler_failures": total("handler_failures"),
        "peak_tasks": peak("peak_tasks"),
        "peak_modelled_memory_bytes": peak("modelled_memory_bytes"),
        "peak_pending_deltas": peak("pending_deltas"),
        "max_oldest_undelivered_age": peak("oldest_undelivered_age"),
        "latency_max": peak("latency_max"),
        "mean_buffered_deltas": (sum(int(row["buffered_deltas"])  # type: ignore[call-overload]
                                     for row in series) / len(series)) if series else 0.0,
    }
    shards = sc.tracker.shard_count
    path = sim.request_path
    queueing = {
        "shards": shards,
        "arrivals": path.arrivals,
        "served": accounted,
        "arrival_rate": path.arrivals / span,
        "mean_wait": path.wait_sum / accounted if accounted else 0.0,
        "mean_sojourn": path.sojourn_sum / accounted if accounted else 0.0,
        "mean_in_system": path.sojourn_sum / span,
        "utilisation": path.busy_sum / (span * shards),
    }
    db = sim.db
    database = {
        "calls": db.calls, "failures": db.failures, "skipped_duplicate_batches":
        db.skipped_batches, "applied_up": db.credited_up, "applied_down": db.credited_down,
    }
    rd = sim.run_database
    rates = {
        "db_calls_per_s": rd.calls_finished / span,
        "records_per_call": rd.records_sent / rd.calls_started if rd.calls_started else None,
        "connection_utilization": rd.busy_seconds / (sc.database.connections * span),
        "shard_lock_utilization": queueing["utilisation"],
    }
    log = sim.latencies
    latency = {"count": log.count, "p50": log.percentile(0.50), "p90": log.percentile(0.90),
               "p99": log.percentile(0.99), "max": log.max}
    memory = {"measures": MEMORY_MEASURES, "peak_bytes": summary["peak_modelled_memory_bytes"]}
    accounting = final_accounting(sim)
    metrics = asdict(sim.tracker.metrics())
    metrics = {k: dict(sorted(v.items())) if isinstance(v, dict) else v
               for k, v in metrics.items()}
    return SimulationResult(
        scenario=sc.to_data(), partial=sim.interrupted, simulated_seconds=sim.end_time,
        summary=summary, accounting=accounting, queueing=queueing,
        database=database, tracker_metrics=metrics, series=series,
        stability=stability(series, sim.end_time), rates=rates, latency=latency,
        memory=memory, bytes=bytes_breakdown(accounting))
