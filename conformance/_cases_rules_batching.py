"""Cases for batching and delivery, for both presets.

Each function takes a preset name and returns one case whose id is
``<preset>/<rule>/<slug>``; where the presets differ it states both
expectations by hand, so a wrong executor cannot write wrong vectors. The
order cases are published in is :data:`._cases_rules.RULE_CASES`.
"""

from __future__ import annotations

from ._cases_rules_base import SEED, new
from ._vectors import Case

# -- R6: batching and delivery ---------------------------------------------------


def r6_1_size_trigger(preset: str) -> Case:
    c = new(preset, "R6.1", "batch-size-trigger",
            "A shard buffer reaching batch_size is sealed as one batch; the seed delivers it "
            "on the announce that filled it, the recommended preset in the background.",
            config={"batch_size": 3}, rules=("R6.3",))
    for t in (1, 2, 3):
        c.announce(0, t=t, up=0)
    c.announce(10, t=1, up=10)
    c.announce(10, t=2, up=20)
    third = c.announce(10, t=3, up=30)
    if preset == SEED:
        c.want([len(d.batch.records) for d in third.deliveries], [3], "on-path batch")
    else:
        c.want(third.deliveries, (), "no on-path delivery")
        c.want([len(d.batch.records) for d in c.deliver(10).deliveries], [3], "batch")
    c.want(c.state(10).pending_records, 0, "nothing pending")
    return c.build()


def r6_2_age_and_gc(preset: str) -> Case:
    c = new(preset, "R6.2", "age-and-gc-flush",
            "Below batch_size, the seed never flushes (not on age, not on GC); the "
            "recommended preset seals a buffer once its oldest record is max_batch_age old "
            "and on every GC.", defects=[6], config={"gc_interval": 60})
    c.announce(0, up=0)
    c.announce(1, up=10)
    early = c.deliver(10)
    on_age = c.deliver(11)
    c.announce(20, up=30)
    c.gc(60)
    after_gc = c.deliver(60)
    if preset == SEED:
        c.want((early.deliveries, on_age.deliveries, after_gc.deliveries), ((), (), ()),
               "nothing delivered")
        c.want(c.state(60).pending_records, 2, "both records still pending")
    else:
        c.want(early.deliveries, (), "not yet aged")
        c.want([d.batch.sealed_at for d in on_age.deliveries], [11], "sealed on age")
        c.want([d.batch.sealed_at for d in after_gc.deliveries], [60], "sealed by gc")
        c.want(c.state(60).pending_records, 0, "nothing pending")
    return c.build()


def r6_3_flush_path(preset: str) -> Case:
    c = new(preset, "R6.3", "flush-path",
            "Who delivers a full batch: the announce that filled it (seed) or the "
            "background flusher (recommended); a deliver pass then finds nothing or "
            "everything.", config={"batch_size": 1})
    c.announce(0, up=0)
    obs = c.announce(5, up=5)
    passed = c.deliver(5)
    if preset == SEED:
        c.want(len(obs.deliveries), 1, "delivered on path")
        c.want(passed.deliveries, (), "nothing left")
    else:
        c.want(obs.deliveries, (), "announce does not deliver")
        c.want(len(passed.deliveries), 1, "flusher delivers")
    return c.build()


def r6_4_success(preset: str) -> Case:
    c = new(preset, "R6.4", "success-releases-batch",
            "A batch the handler accepted leaves the tracker: nothing pending, the ledger "
            "counts it delivered.", config={"batch_size": 2}, needs=["ledger"],
            rules=("R11",))
    c.announce(0, up=0, t=1)
    c.announce(0, up=0, t=2)
    c.announce(10, up=7, down=1, t=1)
    c.announce(10, up=5, down=2, t=2)
    c.deliver(10)
    st = c.state(10)
    c.want((st.pending_records, st.ledger.delivered_up, st.ledger.delivered_down),
           (0, 12, 3), "pending / delivered")
    return c.build()


def r6_5_failed_batch(preset: str) -> Case:
    c = new(preset, "R6.5", "failed-batch",
            "A failed batch: the seed merges its records back in front of the buffer and "
            "seals them with newer records under a new id; the recommended preset keeps the "
            "identical batch (same id) and offers it again after a backoff.",
            config={"batch_size": 2}, needs=["batch_ids"], defects=[7, 9])
    c.announce(0, up=0, t=1)
    c.announce(0, up=0, t=2)
    c.announce(0, up=0, t=3)
    c.handler("fail")
    c.announce(10, up=1, t=1)
    first = c.announce(10, up=2, t=2)
    if preset == SEED:
        c.want([d.outcome.value for d in first.deliveries], ["fail"], "failed on path")
        retry = c.announce(20, up=3, t=3)
        c.want([(d.batch.batch_id, len(d.batch.records)) for d in retry.deliveries],
               [(2, 3)], "merged under a new id")
    else:
        c.want([d.batch.batch_id for d in c.deliver(10).deliveries], [1], "first attempt")
        c.want(c.deliver(10).deliveries, (), "backing off")
        c.want([(d.batch.batch_id, len(d.batch.records)) for d in c.deliver(11).deliveries],
               [(1, 2)], "identical batch again")
    c.state(20)
    return c.build()


def r6_5_backoff(preset: str) -> Case:
    c = new(preset, "R6.5", "repeated-failures",
            "Repeated failures: the seed retries on every announce that finds the buffer "
            "full; the recommended preset backs off exponentially (1, 2, 4 s).",
            config={"batch_size": 1}, defects=[7])
    c.announce(0, up=0)
    c.handler("fail", "fail", "fail")
    if preset == SEED:
        for t in (1, 2, 3):
            c.want_outcome(c.announce(t, up=t), "credited", "handler_failed")
        c.want([len(d.batch.records) for d in c.announce(4, up=4).deliveries], [4],
               "all four records in one batch")
    else:
        c.announce(1, up=1)
        attempts = [len(c.deliver(t).deliveries) for t in range(1, 10)]
        c.want(attempts, [1, 1, 0, 1, 0, 0, 0, 1, 0], "deliveries at t=1..9")
    c.state(10)
    return c.build()


def r6_6_handler_failure(preset: str) -> Case:
    c = new(preset, "R6.6", "failed-delivery-and-the-announce",
            "A failed delivery on the announce path fails that announce with "
            "handler_failed (its accounting stands); background delivery never affects "
            "announces.", config={"batch_size": 1})
    c.announce(0, up=0)
    c.handler("fail_after_commit")
    obs = c.announce(5, up=50)
    if preset == SEED:
        c.want((obs.status.value, obs.reject), ("rejected", "handler_failed"), "failed")
        c.want_record(obs, 50)
    else:
        c.want(obs.status.value, "ok", "announce unaffected")
        c.want([d.outcome.value for d in c.deliver(5).deliveries], ["fail_after_commit"],
               "background failure")
    c.state(5)
    return c.build()


def r6_7_max_pending(preset: str) -> Case:
    c = new(preset, "R6.7", "max-pending",
            "Back-pressure: with max_pending records held, an announce that would add one "
            "more is rejected with pending_full and changes nothing; delivery frees room.",
            config={"max_pending": 2, "batch_size": 100})
    for t in (1, 2, 3):
        c.announce(0, t=t, up=0)
    c.announce(10, t=1, up=1)
    c.announce(10, t=2, up=1)
    full = c.announce(10, t=3, up=1)
    c.want_outcome(full, "rejected", "pending_full")
    c.want(c.announce(10, t=3, up=0).outcome.value, "credited", "a zero announce is accepted")
    if preset == SEED:
        c.stop(20)
    else:
        c.gc(20)
        c.deliver(20)
        c.want_record(c.announce(30, t=3, up=1), 1)
    c.state(30)
    return c.build()


def r6_2_gc_only(preset: str) -> Case:
    c = new(preset, "R6.2", "gc-seals-without-age-limit",
            "With max_batch_age off, only GC seals a partial buffer (flush_on_gc, "
            "recommended); the seed's GC seals nothing.",
            config={"max_batch_age": "off", "gc_interval": 30})
    c.announce(0, up=0)
    c.announce(1, up=5)
    c.want(c.deliver(29).deliveries, (), "nothing before GC")
    c.gc(30)
    after = c.deliver(30)
    c.want(len(after.deliveries), 0 if preset == SEED else 1, "after GC")
    return c.build()


def r6_7_purge_deferred(preset: str) -> Case:
    c = new(preset, "R6.7", "purge-deferred-when-full",
            "GC under back-pressure: a purge whose record would exceed max_pending is "
            "deferred (the entry stays) for as long as the records wait; without purge "
            "records (seed) nothing is deferred.",
            config={"max_pending": 1, "peer_lifetime": 50, "gc_interval": 10,
                    "max_batch_age": "off", "batch_size": 10, "flush_on_gc": False},
            rules=("R7", "R7.4"))
    c.announce(0, t=2, up=0)  # goes stale; last in infohash order, so the seed survives
    c.announce(0, t=1, up=0)
    c.announce(40, t=1, up=5)
    first = c.gc(60)
    c.want(first.removed_entries, 1 if preset == SEED else 0, "purge deferred")
    if preset == SEED:
        c.stop(70)
    else:
        c.want(c.gc(100).removed_entries, 0, "still full")
    c.state(100)
    return c.build()
