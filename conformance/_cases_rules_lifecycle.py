"""Cases for the life cycle, counter limits, configuration, the ledger and gauges, for both presets.

Each function takes a preset name and returns one case whose id is
``<preset>/<rule>/<slug>``; where the presets differ it states both
expectations by hand, so a wrong executor cannot write wrong vectors. The
order cases are published in is :data:`._cases_rules.RULE_CASES`.
"""

from __future__ import annotations

from privtrak.reference import INT64_MAX, UINT64_MAX

from ._cases_rules_base import SEED, new
from ._vectors import Case

# -- R8: stop, snapshot ----------------------------------------------------------


def r8_stop_delivers(preset: str) -> Case:
    c = new(preset, "R8", "stop-delivers-everything",
            "Stop seals every buffer and delivers it before closing; nothing is returned or "
            "dropped when the handler succeeds.", config={"shard_count": 4})
    for n in (1, 2, 3):
        c.announce(0, u=n, up=0)
    for n in (1, 2, 3):
        c.announce(10, u=n, up=n)
    obs = c.stop(20)
    c.want((sum(len(d.batch.records) for d in obs.deliveries), obs.returned,
            obs.dropped_records), (3, (), 0), "delivered / returned / dropped")
    c.state(20)
    return c.build()


def r8_1_closing(preset: str) -> Case:
    c = new(preset, "R8.1", "announce-after-stop",
            "After stop every announce is rejected with closing and changes nothing.")
    c.announce(0, up=0)
    c.stop(10)
    c.want_outcome(c.announce(20, up=50), "rejected", "closing")
    c.want_outcome(c.announce(20, u=2, up=50), "rejected", "closing")
    c.state(20)
    return c.build()


def r8_2_undelivered(preset: str) -> Case:
    c = new(preset, "R8.2", "stop-with-failing-handler",
            "Batches whose delivery fails during stop: the seed drops them (counted); the "
            "recommended preset returns them to the caller.", defects=[8],
            needs=["ledger"], rules=("R11",))
    c.announce(0, up=0)
    c.announce(10, up=40, down=4)
    c.handler("fail")
    obs = c.stop(20)
    if preset == SEED:
        c.want((obs.dropped_records, obs.returned), (1, ()), "dropped")
    else:
        c.want((obs.dropped_records, [len(b.records) for b in obs.returned]), (0, [1]),
               "returned")
    c.state(20)
    return c.build()


def r8_3_snapshot(preset: str) -> Case:
    c = new(preset, "R8.3", "snapshot-restore",
            "A snapshot taken mid-stream and restored keeps every baseline and pending "
            "record: accounting continues as if nothing happened.", defects=[12],
            config={"batch_size": 3})
    c.announce(0, up=0, t=1)
    c.announce(0, up=0, t=2)
    c.announce(10, up=10, t=1)
    c.snapshot_restore(15)
    c.want_record(c.announce(20, up=25, t=2), 25)
    c.want_record(c.announce(30, up=30, t=1), 20)
    c.state(30)
    c.stop(40)
    return c.build()


def r8_3_snapshot_retry_state(preset: str) -> Case:
    c = new(preset, "R8.3", "snapshot-keeps-retry-state",
            "A snapshot taken while a failed batch waits: after restore the seed still "
            "merges it into the next batch, the recommended preset still honours the "
            "backoff and offers the identical batch.",
            config={"batch_size": 1, "retry_backoff_initial": 4, "retry_backoff_max": 8},
            rules=("R6.5",), needs=["batch_ids"])
    c.announce(0, t=1, up=0)
    c.announce(0, t=2, up=0)
    c.handler("fail")
    c.announce(1, t=1, up=10)
    c.deliver(1)
    c.snapshot_restore(2)
    early = c.deliver(3)
    later = c.deliver(5)
    if preset == SEED:
        c.want((early.deliveries, later.deliveries), ((), ()), "merged records wait in buffer")
        obs = c.announce(6, t=2, up=20)
        c.want([len(d.batch.records) for d in obs.deliveries], [2], "merged on next seal")
    else:
        c.want(early.deliveries, (), "still backing off")
        c.want([d.batch.batch_id for d in later.deliveries], [1], "same batch after 4 s")
    c.state(6)
    return c.build()


# -- R9: counter range -----------------------------------------------------------


def r9_1_wrap(preset: str) -> Case:
    c = new(preset, "R9.1", "large-counters",
            "Counters past 2**53 stay exact in decimal strings; the seed's int64 cast wraps "
            "a difference of 2**63 or more to a negative delta.", defects=[10])
    c.announce(0, up=0, down=0)
    c.want_record(c.announce(10, up=INT64_MAX, down=2**53 + 1), INT64_MAX, 2**53 + 1)
    c.announce(20, u=2, up=0)
    big = c.announce(30, u=2, up=UINT64_MAX)
    if preset == SEED:
        c.want_record(big, -1)
    else:
        c.want_outcome(big, "rejected", "counter_out_of_range")
    c.state(30)
    return c.build()


def r9_2_limit(preset: str) -> Case:
    c = new(preset, "R9.2", "counter-above-int64",
            "One announce claims 2**63 bytes (about 8 EiB): the seed wraps it to "
            "-2**63; the recommended preset rejects it with counter_out_of_range.",
            defects=[10])
    c.announce(0, up=0)
    obs = c.announce(10, up=2**63)
    if preset == SEED:
        c.want_record(obs, -(2**63))
    else:
        c.want_outcome(obs, "rejected", "counter_out_of_range")
        c.want_outcome(c.announce(10, u=3, up=0, down=2**63), "rejected",
                       "counter_out_of_range")
    c.state(10)
    return c.build()


def r9_3_valid_extremes(preset: str) -> Case:
    c = new(preset, "R9.3", "valid-extremes",
            "The extremes of valid input are accepted: counters and left at 2**64-1, port 0 "
            "and 65535, an empty ip. (Malformed input never reaches the tracker, so it has "
            "no vector: a vector with it is rejected when loaded.)")
    c.want_outcome(c.announce(0, up=UINT64_MAX, down=UINT64_MAX, left=UINT64_MAX, port=0,
                              ip=""), "baseline" if preset == SEED else "rejected",
                   None if preset == SEED else "counter_out_of_range")
    c.want_outcome(c.announce(1, u=2, up=0, left=UINT64_MAX, port=65535, ip="::1"),
                   "baseline")
    c.want_record(c.announce(2, u=2, up=1, left=UINT64_MAX, port=65535, ip="::1"), 1)
    return c.build()


# -- R10: configuration ----------------------------------------------------------


def r10_policy_mix(preset: str) -> Case:
    mix = ({"flush_path": "background", "failed_batch": "retain"} if preset == SEED
           else {"counter_decrease": "negative_delta"})
    c = new(preset, "R10", "policy-override",
            "Any policy may be overridden on top of a preset: the seed with background "
            "flushing and retained batches, or the recommended preset with the seed's "
            "negative deltas.", config={**mix, "batch_size": 1})
    c.announce(0, up=100)
    obs = c.announce(10, up=40)
    if preset == SEED:
        c.want((obs.deliveries, obs.record is not None), ((), True), "background flush")
        c.want(len(c.deliver(10).deliveries), 1, "flusher delivers")
    else:
        c.want_record(obs, -60)
        c.deliver(10)
    c.state(10)
    return c.build()


def r10_preset_defaults(preset: str) -> Case:
    c = new(preset, "R10", "preset-defaults",
            "The preset's defaults without overrides (1024 shards, batch_size 1024, "
            "peer_lifetime 1800 s seed / 3600 s recommended).", config={"shard_count": 1024})
    c.announce(0, up=0)
    c.gc(1801)
    st = c.state(1801)
    c.want(len(st.entries), 0 if preset == SEED else 1, "entry after 1801 s")
    return c.build()


def r10_1_durations(preset: str) -> Case:
    c = new(preset, "R10.1", "go-durations",
            "peer_lifetime written as 1m30s and gc_interval as 0.5m are 90 s and 30 s "
            "(vectors store the canonical whole seconds).", rules=("R10.4",),
            config={"peer_lifetime": "1m30s", "gc_interval": "0.5m"})
    c.want((c.config.peer_lifetime, c.config.gc_interval), (90, 30), "parsed")
    c.announce(0, up=0)
    c.want(c.gc(90).removed_entries, 0, "kept at 90 s")
    c.want(c.gc(91).removed_entries, 1, "purged at 91 s")
    return c.build()


def r10_2_zero_means_default(preset: str) -> Case:
    c = new(preset, "R10.2", "zero-means-default",
            "batch_size 0 falls back to the default 1024, as in the seed: 1023 records do "
            "not fill a batch (the vector stores the resolved 1024).",
            config={"batch_size": 0, "max_batch_age": "off", "flush_on_gc": False})
    c.want(c.config.batch_size, 1024, "default")
    c.announce(0, up=0)
    c.announce(1, up=1)
    c.want(c.deliver(100).deliveries, (), "no batch")
    return c.build()


def r10_3_valid_edges(preset: str) -> Case:
    c = new(preset, "R10.3", "valid-config-edges",
            "The edges of a valid configuration: retry_backoff_max equal to "
            "retry_backoff_initial, batch_size and max_pending of 1. (An invalid "
            "configuration has no vector: a loader rejects it.)",
            config={"retry_backoff_initial": 3, "retry_backoff_max": 3, "batch_size": 1,
                    "max_pending": 1, "failed_batch": "retain",
                    "flush_path": "background"})
    c.announce(0, up=0)
    c.handler("fail", "fail")
    c.announce(1, up=5)
    c.want_outcome(c.announce(1, t=2, up=0, event="completed"),
                   "rejected" if preset != SEED else "baseline",
                   "pending_full" if preset != SEED else None)
    c.want([len(c.deliver(t).deliveries) for t in (1, 2, 4, 6, 7)], [1, 0, 1, 0, 1],
           "retries every 3 s")
    return c.build()


# -- R11, R12: ledger and gauges -------------------------------------------------


def r11_ledger(preset: str) -> Case:
    c = new(preset, "R11", "ledger-balances",
            "Every credited byte is delivered, dropped, returned or still pending; the "
            "ledger in the state summary adds up.", needs=["ledger"],
            config={"batch_size": 2})
    c.announce(0, up=0, t=1)
    c.announce(0, up=0, t=2)
    c.announce(10, up=100, t=1)
    c.announce(10, up=50, t=2)
    c.deliver(20)
    c.announce(30, up=130, t=1)
    st = c.state(30)
    lg = st.ledger
    c.want((lg.credited_up, lg.delivered_up, lg.pending_up), (180, 150, 30), "ledger")
    c.handler("fail")
    c.stop(40)
    c.state(40)
    return c.build()


def r11_1_attributed(preset: str) -> Case:
    c = new(preset, "R11.1", "attributed-bytes",
            "Bytes that start a new baseline epoch are attributed to a cause (baseline, "
            "reset, purge_gap) instead of being credited; the ledger carries them.",
            needs=["ledger"], rules=("R3.4",),
            config={"peer_lifetime": 100, "gc_interval": 1000})
    c.announce(0, up=100, down=10)
    c.announce(10, up=50, down=10)
    c.announce(200, up=70, down=30)
    lg = c.state(200).ledger
    if preset == SEED:
        c.want((lg.attributed_baseline_up, lg.attributed_reset_up, lg.credited_up),
               (100, 0, -30), "seed: one baseline, negative then revived credit")
    else:
        c.want((lg.attributed_baseline_up, lg.attributed_reset_up,
                lg.attributed_purge_gap_up, lg.credited_up), (100, 50, 70, 0),
               "baseline, reset, purge gap")
    return c.build()


def r12_users_gauge(preset: str) -> Case:
    c = new(preset, "R12", "users-gauge",
            "The users gauge (the seed's chihaya_privtrak_users_count) follows users "
            "gaining and losing their last entry.",
            config={"peer_lifetime": 50, "gc_interval": 10})
    for n in (1, 2, 3):
        c.announce(n, u=n, up=0)
    c.want(c.state(3).users, 3, "three users")
    c.announce(10, u=2, up=5, event="stopped")
    c.want(c.state(10).users, 2, "stopped removed user 2")
    c.gc(53)
    c.want(c.state(53).users, 1, "gc removed user 1")
    return c.build()
