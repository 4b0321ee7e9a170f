"""Time series: per-bucket counters, latency percentiles and sampled gauges.

Counters (announces offered, completed, failed, timed out; handler calls
and failures) count what happened inside the bucket. Gauges (pending deltas,
tracked entries, in-flight tasks, modelled memory, age of the oldest
undelivered delta) are sampled at the bucket's end. ``peak_tasks`` is the
largest number of in-flight tasks seen inside the bucket.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_right
from dataclasses import dataclass

SERIES_COLUMNS = (
    "t_start", "t_end", "offered", "completed", "failed", "timed_out", "rejected",
    "latency_p50", "latency_p90", "latency_p99", "latency_max",
    "pending_deltas", "buffered_deltas", "tracked_entries", "users", "in_flight_tasks",
    "peak_tasks", "in_flight_requests", "modelled_memory_bytes", "oldest_undelivered_age",
    "handler_calls", "handler_failures", "batches_delivered", "records_credited",
)
"""Columns of ``series.csv``, in order (README.md explains each)."""


class Bucket:
    """Counters of the bucket being filled; the engine increments them directly."""

    __slots__ = ("batches_delivered", "completed", "failed", "handler_calls",
                 "handler_failures", "latencies", "offered", "peak_tasks", "records_credited",
                 "rejected", "t_start", "timed_out")

    def __init__(self, t_start: float, tasks: int) -> None:
        self.t_start = t_start
        self.offered = self.completed = self.failed = self.timed_out = self.rejected = 0
        self.handler_calls = self.handler_failures = self.batches_delivered = 0
        self.records_credited = 0
        self.latencies: list[float] = []
        self.peak_tasks = tasks


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list; ``None`` when empty."""
    if not ordered:
        return None
    permille = round(q * 1000)
    rank = max(1, -(-(permille * len(ordered)) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Gauges:
    """What the tracker holds at one instant."""

    pending_deltas: int
    buffered_deltas: int
    tracked_entries: int
    users: int
    in_flight_tasks: int
    in_flight_requests: int
    modelled_memory_bytes: int
    oldest_undelivered_age: float | None


class LatencyLog:
    """Every answer latency of a run, kept per bucket as sorted arrays of
    doubles (8 bytes a value), so run-wide percentiles are exact.

    :meth:`percentile` is the nearest-rank percentile, as :func:`percentile`
    gives on one sorted list: the smallest recorded value ``v`` with at least
    ``ceil(q * n)`` values ``<= v``, found by bisecting the bit patterns of
    non-negative doubles (which order like the values) and counting with
    ``bisect`` in each bucket's array.
    """

    __slots__ = ("count", "max", "runs")

    def __init__(self) -> None:
        self.runs: list[array[float]] = []
        self.count = 0
        self.max: float | None = None

    def add_sorted(self, ordered: list[float]) -> None:
        """Record one bucket's latencies (ascending, non-negative)."""
        if not ordered:
            return
        if ordered[0] < 0:
            raise ValueError(f"latencies must not be negative (got {ordered[0]})")
        self.runs.append(array("d", ordered))
        self.count += len(ordered)
        if self.max is None or ordered[-1] > self.max:
            self.max = ordered[-1]

    def _at_most(self, value: float) -> int:
        return sum(bisect_right(run, value) for run in self.runs)

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile over the whole run; ``None`` when empty."""
        if not self.count or self.max is None:
            return None
        permille = round(q * 1000)
        rank = min(max(1, -(-(permille * self.count) // 1000)), self.count)
        lo, hi = 0, _bits(self.max)  # the answer's bit pattern is in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if self._at_most(_value(mid)) >= rank:
                hi = mid
            else:
                lo = mid + 1
        return _value(lo)


def _bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


def _value(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<q", bits))[0])


def close_bucket(b: Bucket, t_end: float, g: Gauges,
                 log: LatencyLog | None = None) -> dict[str, object]:
    """One finished row of the series, as plain data keyed by SERIES_COLUMNS;
    the bucket's latencies also go to ``log`` when given."""
    lat = sorted(b.latencies)
    if log is not None:
        log.add_sorted(lat)
    return {
        "t_start": b.t_start, "t_end": t_end, "offered": b.offered, "completed": b.completed,
        "failed": b.failed, "timed_out": b.timed_out, "rejected": b.rejected,
        "latency_p50": percentile(lat, 0.50), "latency_p90": percentile(lat, 0.90),
        "latency_p99": percentile(lat, 0.99), "latency_max": lat[-1] if lat else None,
        "pending_deltas": g.pending_deltas, "buffered_deltas": g.buffered_deltas,
        "tracked_entries": g.tracked_entries, "users": g.users,
        "in_flight_tasks": g.in_flight_tasks, "peak_tasks": max(b.peak_tasks, g.in_flight_tasks),
        "in_flight_requests": g.in_flight_requests,
        "modelled_memory_bytes": g.modelled_memory_bytes,
        "oldest_undelivered_age": g.oldest_undelivered_age,
        "handler_calls": b.handler_calls, "handler_failures": b.handler_failures,
        "batches_delivered": b.batches_delivered, "records_credited": b.records_credited,
    }
