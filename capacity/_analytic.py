"""Closed forms to draw beside the simulated points.

The database is modelled as a c-server queue (c = ``database.connections``)
fed by the batch rate:

* records are made at rate ``r`` (measured); a batch holds ``n`` records:
  the size trigger ``batch_size`` or, with ``max_batch_age`` A, the records
  one buffer gathers in A (``1 + r_buffer * A``), whichever is smaller;
  ``r_buffer`` is ``r`` divided by the shards that hold any user (users
  hash to shards: ``S (1 - (1 - 1/S)^U)`` of ``S`` shards for ``U`` users)
  for per-shard buffers (the seed's batch scope), and ``r`` for one
  tracker-wide buffer (``batch_scope: global``);
* calls arrive at ``lambda = r / n``, each takes ``S = (base + per_record *
  n) * E[jitter]``; utilisation ``rho = lambda * S / c``;
* the wait for a connection is Erlang C (M/M/c) and, for the real service
  time distribution, the Allen-Cunneen approximation ``Wq(M/G/c) =
  Wq(M/M/c) * (1 + Cs^2) / 2`` (with a constant call time this is the
  usual M/D/c estimate, half the M/M/c wait);
* a record waits in its buffer (half the fill time ``T`` when batches are
  sealed by size; ``T (n+1) / 2n`` when sealed by age, as the first record
  waits the whole ``T``), then ``Wq + S``: Little's law gives the records
  pending, ``L = r * (wait + Wq + S)``, and the oldest record is about
  ``T + Wq + S`` old;
* shard-lock utilisation is ``announces/s * E[service_time] / shard_count``.

These ignore what the simulator adds on purpose (locks held during on-path
deliveries, the flusher's poll, retries, GC flushes), which is why the two
part where the hook mode or batching matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from privtrak.sim import Scenario, parse_dist


def erlang_c(servers: int, load: float) -> float:
    """Probability of waiting in an M/M/c queue with offered load ``load`` Erlangs."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    top = term * load / servers / (1 - load / servers)
    return top / (total + top)


@dataclass(frozen=True, slots=True)
class DatabaseQueue:
    """The database as a c-server queue at one record rate (module docstring)."""

    record_rate: float
    records_per_call: float
    call_rate: float
    call_time: float
    connections: int
    utilization: float
    wait_mmc: float
    wait_mgc: float
    fill_time: float
    sealed_by_size: bool

    @property
    def stable(self) -> bool:
        return self.utilization < 1.0

    @property
    def pending_records(self) -> float:
        """Little's law: records made per second times the mean time a record waits."""
        if not self.stable:
            return math.inf
        return self.record_rate * (self.buffer_wait + self.wait_mgc + self.call_time)

    @property
    def buffer_wait(self) -> float:
        """Mean time a record spends in its buffer before the batch is sealed.

        Sealed by size: records arrive evenly over the fill time, mean ``T/2``.
        Sealed by age: the first record waits the whole ``T``, the ``n - 1``
        others arrive uniformly inside it: ``T (n + 1) / (2 n)``.
        """
        if self.sealed_by_size:
            return self.fill_time / 2
        n = self.records_per_call
        return self.fill_time * (n + 1) / (2 * n)

    @property
    def oldest_age(self) -> float:
        if not self.stable:
            return math.inf
        return self.fill_time + self.wait_mgc + self.call_time


def _batch_scope(scenario: Scenario) -> str:
    """``shard`` or ``global`` (configs without the policy batch per shard, as the seed)."""
    policy = getattr(scenario.tracker, "policy", None)
    scope = getattr(policy, "batch_scope", "shard")
    return str(getattr(scope, "value", scope))


def database_queue(scenario: Scenario, record_rate: float) -> DatabaseQueue:
    """The queueing model of ``scenario``'s database at ``record_rate`` records/s."""
    cfg, db = scenario.tracker, scenario.database
    if _batch_scope(scenario) == "global":
        buffers = 1.0
    else:
        # Users hash to shards: with U users on S shards, S (1 - (1 - 1/S)^U) hold any.
        shards, users = int(cfg.shard_count), scenario.workload.users
        buffers = shards * (1 - (1 - 1 / shards) ** users)
    per_buffer = record_rate / buffers
    size = float(cfg.batch_size)
    age = cfg.max_batch_age
    n = size if age is None else min(size, 1 + per_buffer * float(age))
    if per_buffer <= 0:
        fill = math.inf
    elif n >= size:
        fill = (size - 1) / per_buffer
    else:
        fill = float(age) if age is not None else math.inf
    jitter = parse_dist("jitter", db.jitter.to_data())
    mean_j = jitter.mean()
    scv = _scv(jitter.to_data(), mean_j)
    s = (db.base_latency + db.per_record_latency * n) * mean_j
    lam = record_rate / n if n > 0 else 0.0
    c = db.connections
    a = lam * s
    rho = a / c
    if rho < 1:
        wq = erlang_c(c, a) * s / (c * (1 - rho)) if lam > 0 else 0.0
        wq_g = wq * (1 + scv) / 2
    else:
        wq = wq_g = math.inf
    return DatabaseQueue(record_rate, n, lam, s, c, rho, wq, wq_g, fill, n >= size)


def _scv(data: dict[str, object], mean: float) -> float:
    """Squared coefficient of variation of a jitter distribution (0 for a constant)."""
    (family, params), = data.items()
    if family == "constant":
        return 0.0
    assert isinstance(params, dict)
    if family == "exponential":
        return 1.0
    if family == "lognormal":
        return math.exp(float(params["sigma"]) ** 2) - 1
    if family == "uniform":
        low, high = float(params["low"]), float(params["high"])
        return ((high - low) ** 2 / 12) / mean**2 if mean else 0.0
    if family == "weibull":
        k = float(params["shape"])
        g1, g2 = math.gamma(1 + 1 / k), math.gamma(1 + 2 / k)
        return g2 / g1**2 - 1
    return 0.0


def lock_utilization(scenario: Scenario, announce_rate: float) -> float:
    """Shard-lock utilisation if a lock were held for the service time only."""
    return announce_rate * scenario.tracker_model.service_time.mean() / scenario.tracker.shard_count


def max_record_rate(scenario: Scenario) -> float:
    """The record rate at which the database queue reaches utilisation 1 (bisection)."""
    lo, hi = 0.0, 1.0
    while database_queue(scenario, hi).stable:
        hi *= 2
        if hi > 1e12:
            return math.inf
    for _ in range(100):
        mid = (lo + hi) / 2
        if database_queue(scenario, mid).stable:
            lo = mid
        else:
            hi = mid
    return lo


ANALYTIC_FOR = {
    "pending_records": "Little's law with the batch model",
    "oldest_record_age": "fill time + Erlang-C wait + call time",
    "db_utilization": "M/G/c utilisation fed by the batch rate",
    "db_calls_rate": "record rate / batch size",
    "records_per_call": "batch model",
    "lock_utilization": "announce rate x service time / shards",
}
"""Metrics that have a closed form, and what the line is."""


def analytic_value(metric: str, scenario: Scenario, record_rate: float,
                   announce_rate: float) -> float:
    """The closed-form value of ``metric`` (``nan`` where none applies or it diverges)."""
    if metric == "lock_utilization":
        return lock_utilization(scenario, announce_rate)
    q = database_queue(scenario, record_rate)
    value = {"pending_records": q.pending_records, "oldest_record_age": q.oldest_age,
             "db_utilization": q.utilization, "db_calls_rate": q.call_rate,
             "records_per_call": q.records_per_call}.get(metric, math.nan)
    return value if math.isfinite(value) else math.nan
