"""Is the simulated system stable? A verdict from the trend of its backlog.

A delivery path that keeps up holds a bounded backlog: the number of pending
records and the age of the oldest undelivered one go up and down around a
level. One that cannot keep up (a queue whose arrival rate exceeds its
service rate) grows without bound, roughly linearly. The verdict looks at
the second half of the run (the first half may still be warming up) and
fits a least-squares line through each gauge of the series
(``pending_deltas``, ``oldest_undelivered_age`` and ``in_flight_tasks``,
sampled at the end of every bucket). The last one catches a backlog that is
not made of records: posthook tasks parked behind shard locks held by slow
deliveries (the seed's caps its pending records, so there the tasks grow).

Rule: a gauge *grows* when the rise of its fitted line over the window
(slope x window length) is

* more than :data:`NOISE_FACTOR` times the scatter of the samples around
  the line (the residual standard deviation), so that noise, a sawtooth or
  a few spikes around a flat level cannot pass for a trend, and
* more than :data:`LEVEL_FRACTION` of the gauge's mean level in the window,
  and at least :data:`MIN_RISE` (one record, one second), so that a
  statistically clear but negligible drift is not called a collapse.

The run is ``unstable`` when any of the gauges grows, ``stable`` otherwise, and
``undetermined`` when the window holds fewer than :data:`MIN_POINTS`
samples (a run too short for its bucket width).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

NOISE_FACTOR = 3.0
LEVEL_FRACTION = 0.1
MIN_RISE = 1.0
MIN_POINTS = 4

RULE = (f"over the second half of the run, a gauge grows when its least-squares rise "
        f"exceeds {NOISE_FACTOR:g} x the residual scatter, {LEVEL_FRACTION:g} x its mean "
        f"level and {MIN_RISE:g}; unstable if pending records, the oldest undelivered "
        f"age or the in-flight tasks grow")
"""The rule in one sentence (it goes into ``results.json``)."""


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares line through the points: (slope, intercept, residual sd).

    The residual standard deviation uses ``n - 2`` degrees of freedom (0
    with two points or fewer). Needs at least two distinct ``xs``.
    """
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ValueError("linear_fit needs two or more (x, y) pairs")
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("linear_fit needs two distinct x values")
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    if n <= 2:
        return slope, intercept, 0.0
    ssr = math.fsum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, intercept, math.sqrt(ssr / (n - 2))


def trend(xs: Sequence[float], ys: Sequence[float]) -> dict[str, Any]:
    """Slope, rise over the window, scatter, mean level and whether it grows."""
    slope, _, scatter = linear_fit(xs, ys)
    rise = slope * (xs[-1] - xs[0])
    level = math.fsum(ys) / len(ys)
    grows = (rise > NOISE_FACTOR * scatter and rise > LEVEL_FRACTION * abs(level)
             and rise >= MIN_RISE)
    return {"slope": slope, "rise": rise, "scatter": scatter, "mean": level, "grows": grows}


def stability(series: Sequence[dict[str, Any]], end: float) -> dict[str, Any]:
    """The verdict on a run's series that ended at ``end`` simulated seconds
    (rows past ``end``, such as the stop sequence's, are left out)."""
    t0 = end / 2
    rows = [r for r in series if t0 < float(r["t_end"]) <= end]
    out: dict[str, Any] = {"window": [t0, end], "points": len(rows), "rule": RULE}
    if len(rows) < MIN_POINTS:
        out.update(verdict="undetermined", stable=None,
                   pending_slope_records_per_s=None, oldest_age_slope_s_per_s=None,
                   tasks_slope_per_s=None,
                   message=(f"undetermined: only {len(rows)} series rows in the second half "
                            f"(t={t0:g}..{end:g} s), {MIN_POINTS} needed; run longer or use "
                            "a smaller bucket"))
        return out
    ts = [float(r["t_end"]) for r in rows]
    pending = trend(ts, [float(r["pending_deltas"]) for r in rows])
    age = trend(ts, [float(r["oldest_undelivered_age"] or 0.0) for r in rows])
    tasks = trend(ts, [float(r["in_flight_tasks"]) for r in rows])
    rejected = sum(int(r["rejected"]) for r in rows)
    out["pending_slope_records_per_s"] = pending["slope"]
    out["oldest_age_slope_s_per_s"] = age["slope"]
    out["pending_rise_records"] = pending["rise"]
    out["oldest_age_rise_s"] = age["rise"]
    out["tasks_slope_per_s"] = tasks["slope"]
    out["tasks_rise"] = tasks["rise"]
    span = f"over the second half (t={t0:g}..{end:g} s)"
    if pending["grows"] or age["grows"] or tasks["grows"]:
        parts = []
        if pending["grows"]:
            parts.append(f"pending grows by {pending['slope']:.3g} records/s "
                         f"(+{pending['rise']:.0f} records)")
        if age["grows"]:
            parts.append(f"the oldest undelivered record ages by {age['slope']:.3g} s per s "
                         f"(+{age['rise']:.0f} s)")
        if tasks["grows"]:
            parts.append(f"in-flight tasks (announces waiting for a shard lock, database "
                         f"calls) grow by {tasks['slope']:.3g} per s (+{tasks['rise']:.0f})")
        message = "unstable: the database cannot keep up: " + " and ".join(parts) + " " + span
        out.update(verdict="unstable", stable=False)
    else:
        message = (f"stable: pending records (mean {pending['mean']:.0f}) and the oldest "
                   f"undelivered age (mean {age['mean']:.0f} s) do not grow {span}")
        out.update(verdict="stable", stable=True)
    if rejected:
        message += f"; {rejected} announces were rejected in that window"
    out["message"] = message
    return out
