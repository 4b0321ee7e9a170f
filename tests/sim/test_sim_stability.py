"""The stability verdict, the run-wide rates and latencies, and the byte table."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from privtrak.sim import parse_scenario, run
from privtrak.sim._stability import MIN_POINTS, linear_fit, stability, trend
from privtrak.sim._stats import LatencyLog, percentile


def rows(values: list[float], ages: list[float] | None = None,
         tasks: list[float] | None = None, width: float = 60.0) -> list[dict[str, Any]]:
    """A series of len(values) buckets of ``width`` s: first half 0, second half ``values``."""
    n = len(values)
    ages = ages or [10.0] * n
    tasks = tasks or [4.0] * n
    out = []
    for i in range(2 * n):
        second = i >= n
        out.append({"t_end": (i + 1) * width, "rejected": 0,
                    "pending_deltas": values[i - n] if second else 0.0,
                    "oldest_undelivered_age": ages[i - n] if second else 0.0,
                    "in_flight_tasks": tasks[i - n] if second else 0.0})
    return out


def test_linear_fit_recovers_a_line_and_its_scatter() -> None:
    xs = [float(x) for x in range(10)]
    slope, intercept, scatter = linear_fit(xs, [3.0 + 2.0 * x for x in xs])
    assert (slope, intercept) == pytest.approx((2.0, 3.0))
    assert scatter == pytest.approx(0.0, abs=1e-9)
    _, _, scatter = linear_fit(xs, [(-1.0) ** i for i in range(10)])
    assert scatter == pytest.approx(1.0, rel=0.15)
    with pytest.raises(ValueError, match="two distinct"):
        linear_fit([1.0, 1.0], [1.0, 2.0])


@pytest.mark.parametrize("seed", range(20))
def test_a_flat_noisy_backlog_reads_stable(seed: int) -> None:
    rng = random.Random(seed)
    # Heavy noise around a level of 500, with a sawtooth and rare spikes.
    values = [500 + rng.uniform(-250, 250) + 100 * (i % 5) + (900 if rng.random() < 0.05 else 0)
              for i in range(30)]
    verdict = stability(rows(values), 3600.0)
    assert verdict["verdict"] == "stable", verdict
    assert verdict["stable"] is True
    assert verdict["message"].startswith("stable:")


@pytest.mark.parametrize("seed", range(20))
def test_a_linearly_growing_backlog_reads_unstable(seed: int) -> None:
    rng = random.Random(seed)
    # 5 records/s of growth, buried in noise as large as in the flat case.
    values = [6000 + 5.0 * 60 * i + rng.uniform(-250, 250) for i in range(30)]
    ages = [20.0 + 60 * 0.8 * i for i in range(30)]
    verdict = stability(rows(values, ages), 3600.0)
    assert verdict["verdict"] == "unstable", verdict
    assert verdict["stable"] is False
    assert verdict["pending_slope_records_per_s"] == pytest.approx(5.0, rel=0.1)
    assert verdict["oldest_age_slope_s_per_s"] == pytest.approx(0.8, rel=1e-6)
    assert "the database cannot keep up: pending grows by" in verdict["message"]
    assert "records/s" in verdict["message"]


def test_a_clear_but_negligible_drift_is_not_a_collapse() -> None:
    # +2 % over the window with no noise at all: significant, but not growth that matters.
    drift = [1000 + i * 20 / 29 for i in range(30)]
    assert not trend([float(i) for i in range(30)], drift)["grows"]
    # A draining backlog (falling) is stable.
    assert stability(rows([5000 - 150.0 * i for i in range(30)]), 3600.0)["stable"] is True


def test_parked_tasks_that_pile_up_read_unstable_even_with_capped_pending() -> None:
    capped = [2048.0] * 30
    tasks = [100.0 + 600.0 * i for i in range(30)]  # 10 more parked tasks every second
    verdict = stability(rows(capped, tasks=tasks), 3600.0)
    assert verdict["verdict"] == "unstable"
    assert verdict["tasks_slope_per_s"] == pytest.approx(10.0)
    assert "in-flight tasks" in verdict["message"] and "pending grows" not in verdict["message"]


def test_too_few_rows_are_undetermined() -> None:
    verdict = stability(rows([1.0, 2.0, 3.0]), 360.0)
    assert verdict["points"] == MIN_POINTS - 1
    assert verdict["verdict"] == "undetermined" and verdict["stable"] is None


def test_rows_after_the_end_are_left_out() -> None:
    series = rows([100.0] * 10)
    series.append({"t_end": 1300.0, "rejected": 0, "pending_deltas": 1e9,
                   "oldest_undelivered_age": 1e6, "in_flight_tasks": 1e6})
    assert stability(series, 1200.0)["stable"] is True


@pytest.mark.parametrize("seed", range(10))
def test_run_wide_percentiles_equal_those_of_the_whole_list(seed: int) -> None:
    rng = random.Random(seed)
    log = LatencyLog()
    everything: list[float] = []
    for _ in range(rng.randrange(1, 12)):
        bucket = sorted(rng.choice([0.0, rng.expovariate(1e4), rng.uniform(0, 30)])
                        for _ in range(rng.randrange(0, 200)))
        log.add_sorted(bucket)
        everything.extend(bucket)
    everything.sort()
    for q in (0.5, 0.9, 0.99, 0.999, 1.0):
        assert log.percentile(q) == percentile(everything, q)
    assert log.max == (everything[-1] if everything else None)
    assert log.count == len(everything)


SMALL: dict[str, Any] = {
    "duration": "40m", "bucket": "1m", "seed": 4,
    "workload": {"users": 200, "torrents": 50, "population": 2000, "announce_interval": "2m",
                 "jitter": "10s", "seeding_time": {"weibull": {"shape": 1, "scale": "5h"}}},
    "database": {"connections": 2, "latency": {"base": "5ms", "per_record": "20us",
                                               "jitter": 1}},
}


def small(**database: Any) -> dict[str, Any]:
    return {**SMALL, "database": {**SMALL["database"], **database}}


def test_a_healthy_database_is_stable_and_a_slow_one_is_not() -> None:
    healthy = run(parse_scenario(small()))
    assert healthy.stability["verdict"] == "stable"
    assert "verdict: stable:" in healthy.summary_text()
    # 100 ms per record and one connection: at most 10 records/s delivered,
    # against about 2000 / 120 = 17 announces/s.
    slow = run(parse_scenario(small(connections=1, latency={"base": "5ms",
                                                            "per_record": "100ms"})))
    assert slow.stability["verdict"] == "unstable"
    assert slow.stability["pending_slope_records_per_s"] > 3
    assert "verdict: unstable: the database cannot keep up: pending grows by" in (
        slow.summary_text())
    assert slow.rates["connection_utilization"] > 0.99
    assert slow.conserved  # conservation holds, and the verdict still says it fell over


def test_rates_are_made_of_the_runs_counters() -> None:
    r = run(parse_scenario(small(latency={"base": "10ms", "per_record": "0s", "jitter": 1})))
    span = r.simulated_seconds
    calls = r.database["calls"]
    assert r.rates["db_calls_per_s"] == pytest.approx(calls / span)
    # Constant 10 ms calls: busy time is 10 ms a call (plus at most the calls in progress).
    busy = r.rates["connection_utilization"] * 2 * span
    assert calls * 0.01 <= busy + 1e-9 <= calls * 0.01 + 2 * 0.01
    delivered = r.tracker_metrics["records_delivered"]
    assert r.rates["records_per_call"] == pytest.approx(delivered / calls, rel=0.01)
    assert r.rates["shard_lock_utilization"] == r.queueing["utilisation"]
    lat = r.latency
    assert lat["count"] == r.summary["announces_completed"]
    assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"] == r.summary["latency_max"]


def test_the_byte_table_adds_up_on_the_page() -> None:
    r = run(parse_scenario({**small(), "hook_mode": "posthook",
                            "tracker": {"preset": "seed", "shard_count": 4}}))
    b = r.bytes
    assert b["sum_of_terms"] == b["transferred"] == sum(b["terms"].values())
    assert set(b["terms"]) == {name for name in r.accounting["rows"]
                               if name not in ("transferred", "duplicated")}
    text = r.summary_text()
    table = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("=", "+"):
            table[parts[1]] = int(parts[2].replace(",", ""))
        elif parts[:1] == ["transferred"]:
            table["transferred"] = int(parts[1].replace(",", ""))
    assert set(table) == {"transferred", *b["terms"]}
    assert table["transferred"] == sum(v for k, v in table.items() if k != "transferred")
    assert table["pending"] == b["terms"]["pending"] and table["unreported"] > 0
    assert "not the memory of this process" in text
    assert r.memory["peak_bytes"] == r.summary["peak_modelled_memory_bytes"]
    assert math.isfinite(r.rates["db_calls_per_s"])
