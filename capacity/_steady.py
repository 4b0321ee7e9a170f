"""Steady-state statistics: warm-up truncation, trends and confidence intervals.

* :func:`mser5_truncation` is MSER-5 (White, Cobb and Spratt 2000; White
  1997's MSER applied to batch means of 5 observations), the warm-up rule
  the JMT simulator uses: drop the first ``d`` batches where ``d`` minimises
  the squared standard error of the remaining mean, searching only the first
  half of the run.
* :func:`t_interval` is the Student-t 95 % interval of the mean of
  independent replications; its quantile is computed here (no SciPy).
* :func:`slope` is the least-squares trend of a series, the test for a
  backlog that keeps growing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BATCH = 5


def mser5_truncation(values: Sequence[float]) -> int:
    """Number of leading observations MSER-5 removes as warm-up (a multiple of 5).

    Fewer than 4 batches of 5: nothing is removed (the rule needs data to
    compare). Ties keep the smallest truncation.
    """
    n_batches = len(values) // BATCH
    if n_batches < 4:
        return 0
    means = [sum(values[i * BATCH:(i + 1) * BATCH]) / BATCH for i in range(n_batches)]
    best_d, best_score = 0, math.inf
    for d in range(n_batches // 2 + 1):
        tail = means[d:]
        k = len(tail)
        mean = sum(tail) / k
        score = sum((x - mean) ** 2 for x in tail) / (k * k)
        if score < best_score:
            best_d, best_score = d, score
    return best_d * BATCH


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs``; 0 for fewer than 2 points."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with integer ``df`` (closed-form finite sums,
    exact to rounding for any real ``t``)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:
        total, term = 0.0, c
        if df > 1:
            total = term
            for k in range(3, df, 2):
                term *= c * c * (k - 1) / k
                total += term
        a = (2 / math.pi) * (theta + s * total)
    else:
        total, term = 1.0, 1.0
        for k in range(2, df, 2):
            term *= c * c * (k - 1) / k
            total += term
        a = s * total
    return 0.5 + a / 2


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0 < p < 1) of Student's t with ``df`` degrees of
    freedom, by bisection on :func:`t_cdf` down to adjacent floats."""
    if not 0 < p < 1:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    while True:
        mid = (lo + hi) / 2
        if mid in (lo, hi):  # no float lies between: further halving changes nothing
            return mid
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid


@dataclass(frozen=True, slots=True)
class Estimate:
    """The mean of replications with its 95 % Student-t interval."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t half-width of independent replications.

    One value gives a half-width of ``nan`` (no interval can be stated).
    """
    n = len(values)
    if n == 0:
        raise ValueError("no replications")
    mean = sum(values) / n
    if n == 1:
        return Estimate(mean, math.nan, 1)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    q = t_quantile(0.5 + confidence / 2, n - 1)
    return Estimate(mean, q * math.sqrt(var / n), n)
