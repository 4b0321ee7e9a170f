"""The closed forms drawn beside the simulated points."""

import math

import pytest

from privtrak.capacity import database_queue, erlang_c, max_record_rate
from privtrak.sim import parse_scenario


def test_erlang_c_known_values() -> None:
    # M/M/1: P(wait) = rho; M/M/2 with a = 1 Erlang: C = 1/3.
    assert erlang_c(1, 0.6) == pytest.approx(0.6)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.5) == 1.0


def _scenario(**tracker: object) -> object:
    return parse_scenario({
        "tracker": {"preset": "recommended", "batch_scope": "shard", **tracker},
        "workload": {"users": 10**6},
        "database": {"connections": 1,
                     "latency": {"base": 0.1, "per_record": 0.0, "jitter": {"constant": 1}}},
    })


def test_age_sealed_batches_and_the_mm1_wait() -> None:
    sc = _scenario(shard_count=1, max_batch_age=10, batch_size=1024)
    q = database_queue(sc, record_rate=0.5)  # type: ignore[arg-type]
    # One buffer, 0.5 records/s, sealed by age 10 s: 1 + 0.5 * 10 = 6 records a call.
    assert q.records_per_call == pytest.approx(6.0)
    assert q.call_rate == pytest.approx(0.5 / 6)
    rho = q.call_rate * 0.1
    assert q.utilization == pytest.approx(rho)
    assert q.wait_mmc == pytest.approx(rho * 0.1 / (1 - rho))  # M/M/1: rho S / (1 - rho)
    assert q.wait_mgc == pytest.approx(q.wait_mmc / 2)  # constant call time: M/D/1
    # Little's law: records/s x (buffer wait + queue wait + call).
    buffer_wait = 10 * (6 + 1) / (2 * 6)
    assert q.pending_records == pytest.approx(0.5 * (buffer_wait + q.wait_mgc + 0.1))


def test_size_sealed_batches_and_saturation() -> None:
    sc = _scenario(shard_count=1, max_batch_age="off", batch_size=100)
    q = database_queue(sc, record_rate=50.0)  # type: ignore[arg-type]
    assert q.records_per_call == 100
    assert q.fill_time == pytest.approx(99 / 50)
    # 0.5 calls/s x 0.1 s: stable; the limit is 1 call per 0.1 s = 1,000 records/s.
    assert q.stable
    assert max_record_rate(sc) == pytest.approx(1000.0, rel=1e-6)  # type: ignore[arg-type]
    over = database_queue(sc, record_rate=2000.0)  # type: ignore[arg-type]
    assert not over.stable and math.isinf(over.pending_records)


def test_per_shard_buffers_count_only_the_shards_users_reach() -> None:
    sc = parse_scenario({"tracker": {"preset": "recommended", "batch_scope": "shard",
                                     "shard_count": 1024, "max_batch_age": 10},
                         "workload": {"users": 1000}})
    q = database_queue(sc, record_rate=51.8)
    occupied = 1024 * (1 - (1 - 1 / 1024) ** 1000)
    assert q.records_per_call == pytest.approx(1 + 51.8 / occupied * 10)


def test_one_tracker_wide_buffer_fills_from_every_record() -> None:
    sc = parse_scenario({"tracker": {"preset": "recommended", "batch_scope": "global",
                                     "shard_count": 1024, "max_batch_age": 10},
                         "workload": {"users": 1000}})
    # 400 records/s: the size trigger (1,024) comes first, after 1,023 / 400 s.
    q = database_queue(sc, record_rate=400.0)
    assert q.records_per_call == 1024
    assert q.fill_time == pytest.approx(1023 / 400)
