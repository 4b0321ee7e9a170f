"""Hook-mode behaviours and the database model's failure modes."""

from __future__ import annotations

from typing import Any

from privtrak.sim import parse_scenario, run


def slow_db(mode: str, preset: str = "seed", **db: Any) -> dict[str, Any]:
    """The seed's on-path flush against a database that takes ~40 s per call."""
    return {
        "duration": "20m", "bucket": "2m", "hook_mode": mode, "seed": 2,
        "tracker": {"preset": preset, "shard_count": 2, "batch_size": 16},
        "workload": {"users": 30, "torrents": 10, "population": 400,
                     "announce_interval": "2m", "jitter": "10s", "vanish_fraction": 0,
                     "restart_fraction": 0,
                     "seeding_time": {"weibull": {"shape": 1, "scale": "2h"}}},
        "database": {"connections": 1, "latency": {"base": "30s", "per_record": "600ms"}, **db},
    }


def test_posthook_tasks_pile_up_while_offpath_latency_stays_flat() -> None:
    post = run(parse_scenario(slow_db("posthook")))
    off = run(parse_scenario(slow_db("offpath")))
    assert post.summary["peak_tasks"] > 50
    # Offpath: at most the flusher's parallel calls plus a rare lock waiter.
    assert off.summary["peak_tasks"] <= 4 + 1
    assert post.summary["peak_modelled_memory_bytes"] > off.summary["peak_modelled_memory_bytes"]
    # Offpath answers never wait for the database: latency is the lock's service time.
    assert off.summary["latency_max"] < 0.01
    assert off.summary["announces_timed_out"] == 0
    # Posthook answers at once, whatever the database does.
    assert post.summary["latency_max"] == 0.0
    assert post.conserved and off.conserved


def test_prehook_clients_time_out_behind_a_slow_database() -> None:
    pre = run(parse_scenario(slow_db("prehook")))
    assert pre.summary["announces_timed_out"] > 0
    assert pre.summary["latency_max"] <= 30.0
    assert pre.summary["announces_offered"] > pre.summary["announces_completed"]
    fast = run(parse_scenario(slow_db("prehook", latency={"base": "5ms", "per_record": "0s"})))
    assert fast.summary["announces_timed_out"] == 0
    assert pre.conserved and fast.conserved


def test_failure_after_commit_double_counts_without_dedup() -> None:
    lossy = {"failure_after_commit_probability": 0.3, "latency": {"base": "10ms",
                                                                  "per_record": "0s"}}
    plain = run(parse_scenario(slow_db("offpath", "recommended", **lossy)))
    dedup = run(parse_scenario(slow_db("offpath", "recommended", dedup_batches=True, **lossy)))
    assert sum(plain.row("duplicated")) > 0
    assert dedup.row("duplicated") == (0, 0)
    assert dedup.database["skipped_duplicate_batches"] > 0
    assert plain.conserved and dedup.conserved


def test_dedup_by_batch_id_cannot_help_the_seeds_merged_retries() -> None:
    lossy = {"failure_after_commit_probability": 0.3, "dedup_batches": True,
             "latency": {"base": "10ms", "per_record": "0s"}}
    seed = run(parse_scenario(slow_db("offpath", "seed", **lossy)))
    assert sum(seed.row("duplicated")) != 0
    assert seed.conserved


def test_outage_holds_deltas_back_and_they_arrive_after_it() -> None:
    raw = slow_db("offpath", "recommended", latency={"base": "10ms", "per_record": "0s"},
                  outages=[{"start": "4m", "duration": "6m"}])
    r = run(parse_scenario(raw))
    during = [row for row in r.series if 300 <= row["t_start"] < 600]
    # Retries back off up to retry_backoff_max (300 s) after the outage ends.
    after = [row for row in r.series if row["t_start"] >= 600 + 300]
    assert all(row["handler_failures"] == row["handler_calls"] for row in during)
    assert max(row["oldest_undelivered_age"] or 0 for row in during) > 120
    assert all((row["oldest_undelivered_age"] or 0) <= 20 for row in after)
    assert r.conserved
