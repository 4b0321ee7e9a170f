"""From one simulation's results to named metrics with units.

This is the only module that reads the simulator's ``results.json`` layout.
Every metric a study can put a threshold on, plot or tabulate is declared in
:data:`METRICS` with its unit and the part of the run it summarises:

* ``steady``: the time average over the buckets left after MSER-5 warm-up
  removal (computed per metric, per replication);
* ``run``: the whole run (peaks, totals, accounting);
* ``trend``: the least-squares slope over the second half of the run.

:func:`extract` returns one value per metric for one replication; the study
then averages replications and states a 95 % interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from privtrak.sim import LOSS_CAUSES

from ._steady import mser5_truncation, slope


@dataclass(frozen=True, slots=True)
class Metric:
    """A named figure of one run."""

    name: str
    unit: str
    label: str
    window: str
    """``steady``, ``run`` or ``trend`` (module docstring)."""

    @property
    def description(self) -> str:
        """What the metric measures, in a sentence for the report's method section."""
        return DESCRIPTIONS.get(self.name, self.label)


Row = Mapping[str, Any]


def _per_second(column: str) -> Callable[[Row], float | None]:
    def value(row: Row) -> float | None:
        width = float(row["t_end"]) - float(row["t_start"])
        return float(row[column]) / width if width > 0 else None
    return value


def _column(column: str, none_as: float | None = None) -> Callable[[Row], float | None]:
    def value(row: Row) -> float | None:
        v = row[column]
        return none_as if v is None else float(v)
    return value


_STEADY: dict[str, tuple[str, str, Callable[[Row], float | None]]] = {
    # name: (unit, label, per-bucket value)
    "offered_rate": ("announces/s", "announces offered per second", _per_second("offered")),
    "completed_rate": ("announces/s", "announces completed per second",
                       _per_second("completed")),
    "latency_p50": ("s", "median announce latency", _column("latency_p50")),
    "latency_p99": ("s", "p99 announce latency", _column("latency_p99")),
    "pending_records": ("records", "pending records",
                        _column("pending_deltas")),
    "oldest_record_age": ("s", "oldest undelivered record age",
                          _column("oldest_undelivered_age", 0.0)),
    "modelled_memory": ("bytes", "modelled memory",
                        _column("modelled_memory_bytes")),
    "tracked_entries": ("entries", "baselines held", _column("tracked_entries")),
    "in_flight_tasks": ("tasks", "tasks in flight",
                        _column("in_flight_tasks")),
    "db_calls_rate": ("calls/s", "database calls per second", _per_second("handler_calls")),
}

METRICS: dict[str, Metric] = {
    name: Metric(name, unit, label, "steady") for name, (unit, label, _) in _STEADY.items()
}
for _m in (
    Metric("records_per_call", "records", "records per database call", "steady"),
    Metric("record_rate", "records/s", "records made per second", "steady"),
    Metric("failed_share", "fraction", "announces failed or timed out",
           "steady"),
    Metric("db_utilization", "fraction", "database utilisation", "run"),
    Metric("lock_utilization", "fraction", "shard-lock utilisation", "run"),
    Metric("unstable", "fraction", "runs judged unstable", "trend"),
    Metric("run_latency_p99", "s", "p99 announce latency (whole run)", "run"),
    Metric("peak_modelled_memory", "bytes", "peak modelled memory",
           "run"),
    Metric("peak_tasks", "tasks", "peak tasks in flight", "run"),
    Metric("peak_pending_records", "records", "peak records held by the tracker", "run"),
    Metric("max_oldest_record_age", "s", "largest age of the oldest undelivered record", "run"),
    Metric("memory_per_client", "bytes", "modelled memory per client", "steady"),
    Metric("memory_per_entry", "bytes", "modelled memory per baseline held", "steady"),
    Metric("pending_growth", "records/s", "pending records growth", "trend"),
    Metric("backlog_share", "fraction", "backlog growth / record rate", "trend"),
    Metric("age_growth", "s/s", "oldest-age growth", "trend"),
    Metric("tasks_growth", "tasks/s", "growth of tasks in flight", "trend"),
    Metric("uncredited_share", "fraction", "bytes lost (all causes)", "run"),
    Metric("duplicated_share", "fraction", "bytes credited twice", "run"),
    *(Metric(f"lost_{cause}_share", "fraction", f"bytes lost: {cause.replace('_', ' ')}",
             "run") for cause in LOSS_CAUSES),
):
    METRICS[_m.name] = _m


DESCRIPTIONS = {
    "pending_records": "records the tracker holds (buffered, sealed or in flight) that the "
                       "database has not stored yet",
    "db_utilization": "database connection busy time / (connections x run time), as "
                      "the simulator measures it",
    "lock_utilization": "shard-lock busy time / (shards x run time), as measured",
    "unstable": "share of replications the simulator judged unstable (pending records or "
                "the oldest undelivered age grow over the second half of the run)",
    "run_latency_p99": "p99 of every announce answer latency of the run",
    "tasks_growth": "least-squares slope of the tasks in flight over the second half of the run "
                    "(parked announces and database calls piling up)",
    "memory_per_client": "steady modelled memory / the number of clients kept running "
                         "(workload.population)",
    "backlog_share": "pending growth over the second half / records made per second: the "
                     "share of new records that pile up",
    "uncredited_share": "bytes lost for good (every lost.* cause) / bytes transferred",
    "duplicated_share": "bytes the database applied twice / bytes transferred",
    "latency_p99": "mean over steady buckets of each bucket's p99 announce answer latency",
    "latency_p50": "mean over steady buckets of each bucket's median announce latency",
    "modelled_memory": "the simulator's memory model of the (Go) tracker's accounting path: "
                       "records, pending deltas, tasks and open requests; not this process",
    "failed_share": "announces that failed or timed out / announces offered",
    "record_rate": "records stored plus the growth of pending, per second",
}


def _rows(results: Mapping[str, Any]) -> list[Row]:
    """The buckets of the run proper (a stop_at_end row after the duration is left out)."""
    duration = float(results["scenario"]["duration"])
    return [r for r in results["series"] if float(r["t_start"]) < duration]


def _steady_mean(rows: list[Row], value: Callable[[Row], float | None]) -> tuple[float, int]:
    """Time-weighted mean after MSER-5, and how many buckets were removed."""
    pairs = [(v, float(r["t_end"]) - float(r["t_start"])) for r in rows
             if (v := value(r)) is not None]
    if not pairs:
        return math.nan, 0
    cut = mser5_truncation([v for v, _ in pairs])
    kept = pairs[cut:]
    span = sum(w for _, w in kept)
    return sum(v * w for v, w in kept) / span if span > 0 else math.nan, cut


def _trend(rows: list[Row], column: str, none_as: float = 0.0) -> float:
    half = rows[len(rows) // 2:]
    xs = [float(r["t_end"]) for r in half]
    ys = [none_as if r[column] is None else float(r[column]) for r in half]
    return slope(xs, ys)


def extract(results: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, int]]:
    """Every metric of :data:`METRICS` for one run, and the warm-up buckets removed per
    steady metric. ``results`` is the content of a ``results.json``."""
    rows = _rows(results)
    out: dict[str, float] = {}
    cuts: dict[str, int] = {}
    for name, (_, _, value) in _STEADY.items():
        out[name], cuts[name] = _steady_mean(rows, value)
    cut = cuts["pending_records"]
    window = rows[cut:] if rows else []
    span = sum(float(r["t_end"]) - float(r["t_start"]) for r in window)
    credited = sum(int(r["records_credited"]) for r in window)
    delivered = sum(int(r["batches_delivered"]) for r in window)
    out["records_per_call"] = credited / delivered if delivered else math.nan
    if window and span > 0:
        before = int(rows[cut - 1]["pending_deltas"]) if cut > 0 else int(
            window[0]["pending_deltas"])
        grown = int(window[-1]["pending_deltas"]) - before
        out["record_rate"] = (credited + grown) / span
    else:
        out["record_rate"] = math.nan
    offered = sum(int(r["offered"]) for r in window)
    bad = sum(int(r["failed"]) + int(r["timed_out"]) for r in window)
    out["failed_share"] = bad / offered if offered else 0.0
    rates = results["rates"]
    out["db_utilization"] = float(rates["connection_utilization"])
    out["lock_utilization"] = float(rates["shard_lock_utilization"])
    verdict = results["stability"]["verdict"]
    out["unstable"] = 1.0 if verdict == "unstable" else 0.0 if verdict == "stable" else math.nan
    latency = results["latency"]
    out["run_latency_p99"] = math.nan if latency["p99"] is None else float(latency["p99"])
    summary = results["summary"]
    out["peak_modelled_memory"] = float(summary["peak_modelled_memory_bytes"] or 0)
    out["peak_tasks"] = float(summary["peak_tasks"] or 0)
    out["peak_pending_records"] = float(summary["peak_pending_deltas"] or 0)
    out["max_oldest_record_age"] = float(summary["max_oldest_undelivered_age"] or 0)
    clients = int(results["scenario"]["workload"]["population"])
    out["memory_per_client"] = out["modelled_memory"] / clients if clients else math.nan
    entries = out["tracked_entries"]
    out["memory_per_entry"] = out["modelled_memory"] / entries if entries else math.nan
    out["pending_growth"] = _trend(rows, "pending_deltas")
    rate = out["record_rate"]
    out["backlog_share"] = (out["pending_growth"] / rate if rate and rate > 0
                            and math.isfinite(rate) else 0.0)
    out["age_growth"] = _trend(rows, "oldest_undelivered_age")
    out["tasks_growth"] = _trend(rows, "in_flight_tasks")
    acc = results["accounting"]["rows"]
    transferred = int(acc["transferred"]["up"]) + int(acc["transferred"]["down"])

    def share(row: str) -> float:
        r = acc[row]
        return (int(r["up"]) + int(r["down"])) / transferred if transferred else 0.0

    lost = 0.0
    for cause in LOSS_CAUSES:
        out[f"lost_{cause}_share"] = share(f"lost.{cause}")
        lost += out[f"lost_{cause}_share"]
    out["uncredited_share"] = lost
    out["duplicated_share"] = share("duplicated")
    return out, cuts


def format_value(value: float, unit: str) -> str:
    """A value in the words and scale a reader expects for its unit."""
    if math.isnan(value):
        return "n/a"
    if unit == "bytes":
        n = value
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(n) < 1024 or suffix == "TiB":
                return f"{n:.0f} B" if suffix == "B" else f"{n:.3g} {suffix}"
            n /= 1024
    if unit == "fraction":
        return f"{value * 100:.3g} %"
    if unit == "s":
        if value != 0 and abs(value) < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value:,.3g} s" if abs(value) < 1000 else f"{value:,.0f} s"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"
