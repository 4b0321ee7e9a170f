"""Closed forms the simulator is validated against, and confidence intervals.

Queueing results (one server, Poisson arrivals at rate ``lam``, service rate
``mu``, utilisation ``rho = lam / mu < 1``):

* M/G/1, Pollaczek-Khinchine: ``Wq = lam * E[S^2] / (2 (1 - rho))``;
  ``W = Wq + E[S]``; ``Lq = lam * Wq`` and ``L = lam * W`` (Little).
* M/M/1 (exponential service, ``E[S^2] = 2 / mu^2``): ``Wq = rho / (mu - lam)``,
  ``L = rho / (1 - rho)``.
* M/D/1 (deterministic service, ``E[S^2] = 1 / mu^2``): ``Wq = rho / (2 mu (1 - rho))``,
  ``L = rho + rho^2 / (2 (1 - rho))``.

Batching under size-only flushing (a shard buffer is sealed the moment it
holds ``batch_size`` records, every record arrives on its own):

* flush rate = record rate / batch_size;
* in steady state a shard's buffer length is uniform on ``0 .. batch_size-1``
  (time average), so the mean buffered records over ``shards`` shards is
  ``shards * (batch_size - 1) / 2`` (the "shards x batch / 2" rule).

Confidence intervals are the Student t interval over independent
replications, with the package's own t quantile
(:func:`privtrak.capacity.t_quantile`), so no statistics package is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from privtrak.capacity import t_quantile


def _check_stable(lam: float, mu: float) -> float:
    if lam <= 0 or mu <= 0:
        raise ValueError(f"rates must be positive, got lam={lam}, mu={mu}")
    rho = lam / mu
    if rho >= 1:
        raise ValueError(f"utilisation rho={rho} must be below 1 for a steady state")
    return rho


def mg1_wait(lam: float, mean_service: float, second_moment: float) -> float:
    """Mean time in queue (before service) of an M/G/1 queue (Pollaczek-Khinchine)."""
    rho = _check_stable(lam, 1 / mean_service)
    return lam * second_moment / (2 * (1 - rho))


def mm1_wait(lam: float, mu: float) -> float:
    """Mean time in queue ``Wq`` of M/M/1."""
    rho = _check_stable(lam, mu)
    return rho / (mu - lam)


def mm1_in_system(lam: float, mu: float) -> float:
    """Mean number in system ``L`` (queue plus service) of M/M/1."""
    rho = _check_stable(lam, mu)
    return rho / (1 - rho)


def md1_wait(lam: float, mu: float) -> float:
    """Mean time in queue ``Wq`` of M/D/1 (service time exactly ``1 / mu``)."""
    rho = _check_stable(lam, mu)
    return rho / (2 * mu * (1 - rho))


def md1_in_system(lam: float, mu: float) -> float:
    """Mean number in system ``L`` of M/D/1."""
    rho = _check_stable(lam, mu)
    return rho + rho * rho / (2 * (1 - rho))


def little_l(throughput: float, mean_time: float) -> float:
    """Little's law: mean number in a system = throughput x mean time spent in it."""
    return throughput * mean_time


def flush_rate(record_rate: float, batch_size: int) -> float:
    """Batches sealed per second under size-only flushing, in steady state."""
    return record_rate / batch_size


def mean_buffered(shards: int, batch_size: int) -> float:
    """Time-average records buffered over ``shards`` shards under size-only flushing."""
    return shards * (batch_size - 1) / 2


# -- Student t ---------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval for a mean over ``n`` replications."""

    mean: float
    half_width: float
    n: int
    level: float

    @property
    def low(self) -> float:
        """Lower end."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end."""
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (ends included)."""
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return (f"{self.mean:.6g} +- {self.half_width:.3g} "
                f"({self.level:.0%}, n={self.n})")


def confidence_interval(samples: Sequence[float], level: float = 0.95) -> Interval:
    """Student t interval for the mean of independent, identically distributed
    ``samples`` (one value per replication). Needs at least two samples."""
    n = len(samples)
    if n < 2:
        raise ValueError(f"a confidence interval needs at least 2 replications, got {n}")
    mean = math.fsum(samples) / n
    var = math.fsum((s - mean) ** 2 for s in samples) / (n - 1)
    half = t_quantile(0.5 + level / 2, n - 1) * math.sqrt(var / n)
    return Interval(mean, half, n, level)
