"""From the runs of a study to estimates, threshold verdicts and capacity limits.

* Each point's metrics are averaged over its replications with a 95 %
  Student-t interval (:class:`~._steady.Estimate`).
* A point **passes** when the mean of every thresholded metric is on the
  right side of its bound; it is **marginal** when it passes but an interval
  crosses a bound (more replications would tell).
* A configuration's **limit** is the hardest axis value it meets with every
  easier value met too (walking from the easy end of the axis).
* The **recommendation** (per ``group_by`` group) is the configuration with
  the hardest limit; ties go to the one listed first in the spec.
* A point is **unstable** when the simulator judges at least one of its
  replications unstable (pending records or the oldest undelivered age grow
  over the second half of the run; ``privtrak.sim``'s stability rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._analytic import ANALYTIC_FOR, analytic_value
from ._metrics import METRICS, extract
from ._spec import Point, Study
from ._steady import Estimate, t_interval


@dataclass(frozen=True, slots=True)
class PointOutcome:
    point: Point
    per_replication: tuple[dict[str, float], ...]
    warmup_buckets: tuple[dict[str, int], ...]
    estimates: dict[str, Estimate]
    analytic: dict[str, float]
    checks: tuple[tuple[str, bool, bool], ...]
    """(metric, passes, marginal) per threshold."""
    unstable: bool
    series: tuple[list[dict[str, Any]], ...]

    @property
    def passes(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    @property
    def marginal(self) -> bool:
        return self.passes and any(m for _, _, m in self.checks)


@dataclass(frozen=True, slots=True)
class ConfigOutcome:
    configuration: tuple[tuple[str, Any], ...]
    points: tuple[PointOutcome, ...]
    """Ordered from the easiest axis value to the hardest."""
    limit: PointOutcome | None
    """The hardest point met with every easier one met; None when the easiest fails."""

    @property
    def all_pass(self) -> bool:
        return self.limit is self.points[-1]


@dataclass(frozen=True, slots=True)
class Outcome:
    study: Study
    points: tuple[PointOutcome, ...]
    configurations: tuple[ConfigOutcome, ...]
    recommendations: tuple[tuple[tuple[tuple[str, Any], ...], ConfigOutcome | None], ...]
    """(group assignment, best configuration) per group."""


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def analyse(study: Study, results: dict[tuple[int, int], Any]) -> Outcome:
    """Every estimate and verdict of the study from its runs' results."""
    outcomes = [_point(study, p, [results[(p.index, r)] for r in range(study.replications)])
                for p in study.points]
    configs: dict[tuple[tuple[str, Any], ...], list[PointOutcome]] = {}
    for o in outcomes:
        configs.setdefault(study.configuration(o.point), []).append(o)
    sign = 1 if study.axis.harder == "higher" else -1
    config_outcomes = []
    for conf, pts in configs.items():
        ordered = sorted(pts, key=lambda o: sign * study.axis_value(o.point))
        limit = None
        for o in ordered:
            if not o.passes:
                break
            limit = o
        config_outcomes.append(ConfigOutcome(conf, tuple(ordered), limit))
    groups: dict[tuple[tuple[str, Any], ...], list[ConfigOutcome]] = {}
    for c in config_outcomes:
        key = tuple((k, v) for k, v in c.configuration if k in study.group_by)
        groups.setdefault(key, []).append(c)
    recs = []
    for key, members in groups.items():
        best: ConfigOutcome | None = None
        for c in members:
            if c.limit is None:
                continue
            if best is None or best.limit is None or (
                    sign * study.axis_value(c.limit.point)
                    > sign * study.axis_value(best.limit.point)):
                best = c
        recs.append((key, best))
    return Outcome(study, tuple(outcomes), tuple(config_outcomes), tuple(recs))


def _point(study: Study, point: Point, runs: list[Any]) -> PointOutcome:
    per_rep, cuts = [], []
    for data in runs:
        values, cut = extract(data)
        per_rep.append(values)
        cuts.append(cut)
    estimates = {}
    for name in METRICS:
        vals = _finite([v[name] for v in per_rep])
        estimates[name] = t_interval(vals) if vals else Estimate(math.nan, math.nan, 0)
    record_rate = estimates["record_rate"].mean
    announce_rate = estimates["completed_rate"].mean
    analytic = {m: analytic_value(m, point.scenario, record_rate, announce_rate)
                for m in ANALYTIC_FOR}
    checks = []
    for t in study.thresholds:
        e = estimates[t.metric]
        ok = t.passes(e.mean)
        crosses = (not math.isnan(e.half_width)
                   and (t.passes(e.low) != t.passes(e.high)))
        checks.append((t.metric, ok, ok and crosses))
    unstable = any(v["unstable"] == 1.0 for v in per_rep)
    return PointOutcome(point, tuple(per_rep), tuple(cuts), estimates, analytic,
                        tuple(checks), unstable, tuple(d["series"] for d in runs))
