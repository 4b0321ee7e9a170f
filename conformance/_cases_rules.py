"""Hand-written cases, one or more per SPEC.md rule, for both presets.

Each function takes a preset name and returns one case whose id is
``<preset>/<rule>/<slug>``. Where the presets differ the function states
both expectations by hand, so a wrong executor cannot write wrong vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from privtrak.reference import INT64_MAX, UINT64_MAX, shard_of
from privtrak.reference.ids import user

from ._cases import CaseBuilder
from ._vectors import Case

CaseFn = Callable[[str], Case]
_REGISTRY: list[tuple[CaseFn, tuple[str, ...]]] = []
BOTH = ("seed", "recommended")

ONE_SHARD: dict[str, Any] = {"shard_count": 1}


def rule_case(*presets: str) -> Callable[[CaseFn], CaseFn]:
    """Register a case function for ``presets`` (both when none are named)."""
    def register(fn: CaseFn) -> CaseFn:
        _REGISTRY.append((fn, presets or BOTH))
        return fn
    return register


def rule_cases(preset: str) -> list[Case]:
    """Every registered rule case for ``preset``, in definition order."""
    return [fn(preset) for fn, presets in _REGISTRY if preset in presets]


def new(preset: str, rule: str, slug: str, description: str, *, rules: tuple[str, ...] = (),
        config: dict[str, Any] | None = None, **kwargs: Any) -> CaseBuilder:
    """A builder with the id ``<preset>/<rule>/<slug>`` covering ``rule`` (+ ``rules``)."""
    return CaseBuilder(f"{preset}/{rule}/{slug}", preset=preset, rules=(rule, *rules),
                       description=description, config={**ONE_SHARD, **(config or {})},
                       **kwargs)


SEED = "seed"


# -- R0: time -----------------------------------------------------------------


@rule_case()
def r0_same_second(preset: str) -> Case:
    c = new(preset, "R0", "same-second-and-late-start",
            "Time is whole seconds on the driver's clock, may start anywhere and may stay "
            "equal: three announces in the same second are all accounted.",
            start=1_700_000_000, rules=("R3", "R3.2"))
    t = 1_700_000_000
    c.want_outcome(c.announce(t, up=10, down=5, left=100), "baseline")
    c.want_record(c.announce(t, up=30, down=5, left=100), 20, 0)
    c.want_record(c.announce(t, up=30, down=9, left=100), 0, 4)
    c.state(t)
    return c.build()


# -- R1: identification -------------------------------------------------------


@rule_case()
def r1_bad_credential(preset: str) -> Case:
    c = new(preset, "R1", "bad-credential",
            "A credential without a 32-hex passkey is rejected with bad_credential and "
            "changes nothing.", rules=("R1.1",))
    c.want_outcome(c.announce(0, up=5, credential="/abc/announce"), "rejected",
                   "bad_credential")
    spaced = user(1).hex()[:30] + " 1"
    c.want_outcome(c.announce(0, credential=f"/{spaced}/announce"), "rejected",
                   "bad_credential")
    c.want_outcome(c.announce(1, up=5, credential="/announce"), "rejected", "bad_credential")
    c.want_outcome(c.announce(2, credential="/" + "zz" * 16 + "/announce"), "rejected",
                   "bad_credential")
    c.want(c.state(3).users, 0, "no user created")
    return c.build()


@rule_case()
def r1_query_passkey(preset: str) -> Case:
    hexkey = user(10).hex()
    c = new(preset, "R1", "query-and-path-forms",
            "The passkey may be in the path (/<passkey>/announce) or the query "
            "(?passkey=), in either case of hex: all name the same user; two different "
            "passkeys are refused.", rules=("R1.1",))
    c.want_outcome(c.announce(0, up=100, credential=f"/{hexkey}/announce"), "baseline")
    c.want_record(c.announce(10, up=150, credential=f"/announce?passkey={hexkey}"), 50)
    c.want_record(c.announce(20, up=175, credential=f"/{hexkey.upper()}/announce"), 25)
    c.want_outcome(c.announce(30, credential=f"/{hexkey}/announce?passkey={user(11).hex()}"),
                   "rejected", "bad_credential")
    c.want(c.state(30).users, 1, "one user")
    return c.build()


# -- R2: what a baseline belongs to -------------------------------------------


@rule_case()
def r2_two_peers(preset: str) -> Case:
    c = new(preset, "R2.1", "two-peers-one-torrent",
            "Two clients of one user on one torrent. Keyed by (user, torrent) the seed "
            "interleaves their counters into garbage deltas; keyed by peer too, each client "
            "has its own baseline.", defects=[2])
    c.announce(0, p=1, up=1000, left=50)
    second = c.announce(10, p=2, up=10, left=50)
    third = c.announce(20, p=1, up=1100, left=50)
    if preset == SEED:
        c.want_record(second, -990)
        c.want_record(third, 1090)
    else:
        c.want_outcome(second, "baseline")
        c.want_record(third, 100)
    c.state(20)
    return c.build()


@rule_case()
def r2_3_shards(preset: str) -> Case:
    c = new(preset, "R2.3", "fnv1a-shards",
            "A user's records go to shard fnv1a_32(user id) mod shard_count; under "
            "batch_scope shard each batch holds one shard's records.",
            config={"shard_count": 4, "batch_size": 1, "batch_scope": "shard"},
            rules=("R6.8",))
    for n in range(1, 6):
        c.announce(n, u=n, up=0)
    for n in range(1, 6):
        obs = c.announce(10 + n, u=n, up=100 * n)
        deliveries = obs.deliveries if preset == SEED else c.deliver(10 + n).deliveries
        c.want([d.batch.shard for d in deliveries], [shard_of(user(n), 4)], f"user {n} shard")
    return c.build()


# -- R3: baselines and credit -------------------------------------------------


@rule_case()
def r3_first_announce(preset: str) -> Case:
    c = new(preset, "R3", "first-announce-is-baseline",
            "The first announce of an entry stores its counters as the baseline and credits "
            "nothing, however large they are.", rules=("R12",))
    c.want_outcome(c.announce(0, up=5_000_000_000, down=7_000_000, left=0), "baseline")
    c.want_record(c.announce(0, u=2, t=2, up=1, down=1), None)
    st = c.state(0)
    c.want((st.users, len(st.entries), st.pending_records), (2, 2, 0), "users/entries/pending")
    return c.build()


@rule_case()
def r3_2_credit(preset: str) -> Case:
    c = new(preset, "R3.2", "credit-differences",
            "A known entry is credited the difference to its baseline, per direction; an "
            "announce without change credits nothing and emits no record.")
    c.announce(0, up=100, down=200, left=10)
    c.want_record(c.announce(60, up=160, down=230, left=5), 60, 30)
    c.want_record(c.announce(120, up=160, down=230, left=5), None)
    c.want_record(c.announce(180, up=161, down=230, left=5), 1, 0)
    c.state(180)
    return c.build()


@rule_case()
def r3_4_epochs(preset: str) -> Case:
    c = new(preset, "R3.4", "new-epoch-after-stop",
            "After stopped removes an entry, the next announce starts a new baseline epoch: "
            "its counters are not credited, later differences are.", rules=("R5.1",))
    c.announce(0, up=100, event="started")
    c.want_record(c.announce(10, up=150, event="stopped"), 50, event="stopped")
    c.want_outcome(c.announce(20, up=400, event="started"), "baseline")
    c.want_record(c.announce(30, up=450), 50)
    return c.build()


# -- R4: counters going down, started again -----------------------------------


@rule_case()
def r4_1_decrease(preset: str) -> Case:
    c = new(preset, "R4.1", "counters-decrease",
            "A client restarted and reports lower counters. The seed emits a negative "
            "delta; the recommended preset resets the baseline and credits nothing.",
            defects=[3], rules=("R3.4",))
    c.announce(0, up=1000, down=500)
    obs = c.announce(60, up=100, down=50)
    if preset == SEED:
        c.want_outcome(obs, "credited")
        c.want_record(obs, -900, -450)
    else:
        c.want_outcome(obs, "reset")
        c.want_record(obs, None)
    c.want_record(c.announce(120, up=150, down=50), 50, 0)
    c.state(120)
    return c.build()


@rule_case()
def r4_1_one_direction(preset: str) -> Case:
    c = new(preset, "R4.1", "one-counter-decreases",
            "Only downloaded went down while uploaded grew: the seed credits +up and a "
            "negative down; the recommended preset resets both (the upload gain is "
            "attributed to the reset).", defects=[3])
    c.announce(0, up=100, down=500)
    obs = c.announce(60, up=130, down=20)
    if preset == SEED:
        c.want_record(obs, 30, -480)
    else:
        c.want_outcome(obs, "reset")
        c.want_record(obs, None)
    c.state(60)
    return c.build()


@rule_case()
def r4_2_started_known(preset: str) -> Case:
    c = new(preset, "R4.2", "started-on-known-entry",
            "started for an entry the tracker already has: the seed continues and credits "
            "the difference; the recommended preset starts a new baseline.", defects=[3])
    c.announce(0, up=100, event="started")
    c.announce(60, up=300)
    obs = c.announce(120, up=350, event="started")
    if preset == SEED:
        c.want_record(obs, 50, event="started")
    else:
        c.want_outcome(obs, "reset")
        c.want_record(obs, 0, 0, event="started", kind="event")
    c.want_record(c.announce(180, up=400), 50)
    return c.build()


# -- R5: events -----------------------------------------------------------------


@rule_case()
def r5_1_stopped(preset: str) -> Case:
    c = new(preset, "R5.1", "stopped-removes-entry",
            "stopped on a known entry credits the difference, then removes the entry.",
            rules=("R12",))
    c.announce(0, up=10, t=1)
    c.announce(0, up=10, t=2)
    obs = c.announce(30, up=70, down=5, t=1, event="stopped")
    c.want_outcome(obs, "stopped")
    c.want_record(obs, 60, 5, event="stopped")
    st = c.state(30)
    c.want(len(st.entries), 1, "one entry left")
    c.announce(40, up=10, t=2, event="stopped")
    c.want(c.state(40).users, 0, "user gone with its last entry")
    return c.build()


@rule_case()
def r5_2_completed_zero(preset: str) -> Case:
    c = new(preset, "R5.2", "completed-without-bytes",
            "A completed (snatch) announce that moved no bytes: invisible to the seed's "
            "handler; the recommended preset emits an event record, once per entry.",
            defects=[5], config={"batch_size": 1})
    c.announce(0, up=0, down=1000, left=0)
    first = c.announce(10, up=0, down=1000, left=0, event="completed")
    again = c.announce(20, up=0, down=1000, left=0, event="completed")
    if preset == SEED:
        c.want_record(first, None)
    else:
        c.want_record(first, 0, 0, event="completed", kind="event")
        c.want_record(again, None)
        c.deliver(20)
    c.state(20)
    return c.build()


@rule_case()
def r5_2_completed_bytes(preset: str) -> Case:
    c = new(preset, "R5.2", "completed-with-bytes",
            "completed with transferred bytes: a transfer record stamped completed, carrying "
            "left=0, under both presets.")
    c.announce(0, down=0, left=700)
    c.want_record(c.announce(50, down=700, left=0, event="completed"), 0, 700,
                  event="completed")
    return c.build()


@rule_case()
def r5_2_started_first(preset: str) -> Case:
    c = new(preset, "R5.2", "started-first-announce",
            "The first announce carries started and no bytes: a baseline; the recommended "
            "preset also reports the start as an event record.")
    obs = c.announce(0, up=0, left=500, event="started")
    c.want_outcome(obs, "baseline")
    if preset == SEED:
        c.want_record(obs, None)
    else:
        c.want_record(obs, 0, 0, event="started", kind="event")
    return c.build()


@rule_case()
def r5_3_stopped_unknown(preset: str) -> Case:
    c = new(preset, "R5.3", "stopped-unknown-entry",
            "stopped for an entry the tracker does not have: the seed inserts a ghost "
            "baseline; the recommended preset changes nothing.", defects=[4])
    obs = c.announce(0, up=500, event="stopped")
    st = c.state(0)
    if preset == SEED:
        c.want_outcome(obs, "baseline")
        c.want(len(st.entries), 1, "ghost baseline")
    else:
        c.want_outcome(obs, "stopped_unknown")
        c.want(len(st.entries), 0, "no entry")
    return c.build()


# -- R6: batching and delivery ------------------------------------------------


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


# -- R7: purge ----------------------------------------------------------------------


@rule_case()
def r7_gc_boundary(preset: str) -> Case:
    c = new(preset, "R7", "gc-lifetime-boundary",
            "GC purges entries last seen strictly before now - peer_lifetime: at exactly "
            "the lifetime the entry stays, one second later it goes (with its user).",
            config={"peer_lifetime": 100, "gc_interval": 10}, rules=("R12",))
    c.announce(0, up=1, u=1)
    c.announce(50, up=1, u=2)
    at = c.gc(100)
    c.want((at.removed_entries, at.removed_users), (0, 0), "kept at the boundary")
    after = c.gc(101)
    c.want((after.removed_entries, after.removed_users), (1, 1), "purged after")
    c.want(c.state(101).users, 1, "one user left")
    c.want_outcome(c.announce(102, up=5, u=1), "baseline")
    return c.build()


@rule_case()
def r7_1_purge_on_announce(preset: str) -> Case:
    c = new(preset, "R7.1", "purge-on-announce",
            "An announce after peer_lifetime: the seed also drops the user's other stale "
            "entries on the announce path (here the stale entry is the last in infohash "
            "order, so its loop does not panic); the recommended preset leaves that to GC.",
            config={"peer_lifetime": 100, "gc_interval": 1000})
    c.announce(0, t=2, up=0)
    c.announce(0, t=1, up=0)
    c.announce(90, t=1, up=5)
    c.announce(150, t=1, up=10)
    entries = len(c.state(150).entries)
    c.want(entries, 1 if preset == SEED else 2, "entries after the announce")
    return c.build()


@rule_case()
def r7_2_stale_on_announce(preset: str) -> Case:
    c = new(preset, "R7.2", "stale-entry-announces",
            "An entry older than peer_lifetime announces before GC purged it: the seed "
            "revives it and credits the whole gap; the recommended preset expires it and "
            "starts a new baseline (purge record included).",
            config={"peer_lifetime": 100, "gc_interval": 1000, "batch_size": 10})
    c.announce(0, up=100)
    obs = c.announce(101, up=900)
    if preset == SEED:
        c.want_record(obs, 800)
    else:
        c.want_outcome(obs, "expired")
        c.want_record(obs, None)
    c.want_record(c.announce(150, up=950), 50)
    c.stop(150)
    return c.build()


@rule_case()
def r7_3_seed_panic(preset: str) -> Case:
    c = new(preset, "R7.3", "seed-expiry-panic",
            "A user keeps one torrent active and lets a lower-keyed one go stale: the seed's "
            "expiry loop indexes past the shrunk slice and panics in GC. Seed "
            "(expiry_panic abort): GC shifted a copy of the slice and never wrote it back, "
            "so nothing was removed; the process is dead and the case ends there. "
            "Recommended: the purge completes and seed_would_panic is reported; stale "
            "entries that are last in the list do not panic.",
            config={"peer_lifetime": 100, "gc_interval": 10}, defects=[1],
            needs=["seed_panic"], rules=("R7",))
    c.announce(0, t=1, up=0)
    c.announce(0, t=2, up=0)
    c.announce(80, t=2, up=5)
    gc = c.gc(150)
    c.want((gc.seed_would_panic, gc.removed_entries), (True, 0 if preset == SEED else 1),
           "panic flagged; purged unless the seed aborted")
    if preset == SEED:
        return c.build()
    c.announce(160, u=2, t=2, up=0)
    c.announce(240, u=2, t=1, up=0)
    later = c.gc(300)
    c.want((later.seed_would_panic, later.removed_entries), (False, 2),
           "stale entries that are the last of the list do not panic")
    c.state(300)
    return c.build()


@rule_case()
def r7_4_purge_records(preset: str) -> Case:
    c = new(preset, "R7.4", "purge-records",
            "A purged entry emits a purge record under the recommended preset (the database "
            "can close the session); the seed purges silently.",
            config={"peer_lifetime": 100, "gc_interval": 10})
    c.announce(0, up=0, p=3)
    c.gc(101)
    delivered = c.deliver(101)
    if preset == SEED:
        c.want(delivered.deliveries, (), "nothing")
    else:
        recs = [r for d in delivered.deliveries for r in d.batch.records]
        c.want([(r.kind.value, r.peer_id, r.left) for r in recs], [("purge", r.peer_id, None)
               for r in recs], "purge record without left")
        c.want(len(recs), 1, "one purge record")
    return c.build()


# -- R8: stop, snapshot --------------------------------------------------------------


@rule_case()
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


@rule_case()
def r8_1_closing(preset: str) -> Case:
    c = new(preset, "R8.1", "announce-after-stop",
            "After stop every announce is rejected with closing and changes nothing.")
    c.announce(0, up=0)
    c.stop(10)
    c.want_outcome(c.announce(20, up=50), "rejected", "closing")
    c.want_outcome(c.announce(20, u=2, up=50), "rejected", "closing")
    c.state(20)
    return c.build()


@rule_case()
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


@rule_case()
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


# -- R9: counter range ------------------------------------------------------------------


@rule_case()
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


@rule_case()
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


# -- R10: configuration ------------------------------------------------------------------


@rule_case()
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


@rule_case()
def r10_preset_defaults(preset: str) -> Case:
    c = new(preset, "R10", "preset-defaults",
            "The preset's defaults without overrides (1024 shards, batch_size 1024, "
            "peer_lifetime 1800 s seed / 3600 s recommended).", config={"shard_count": 1024})
    c.announce(0, up=0)
    c.gc(1801)
    st = c.state(1801)
    c.want(len(st.entries), 0 if preset == SEED else 1, "entry after 1801 s")
    return c.build()


# -- R11, R12: ledger and gauges ---------------------------------------------------------


@rule_case()
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


@rule_case()
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


# -- rules added by SPEC.md's finer structure -----------------------------------------


@rule_case()
def r1_2_no_allow_list(preset: str) -> Case:
    c = new(preset, "R1.2", "no-allow-list",
            "Vectors run the passkey identifier without an allow-list (R1.2 makes one "
            "optional): any well-formed passkey is a user and unknown_user never occurs. "
            "Allow-list refusals are not expressible in protocol v1 vectors.",
            rules=("R1",))
    for n in (13, 14, 15):
        c.want_outcome(c.announce(n, u=n, up=1), "baseline")
    c.want(c.state(15).users, 3, "three users")
    return c.build()


@rule_case()
def r2_2_entries(preset: str) -> Case:
    c = new(preset, "R2.2", "entries-sorted",
            "The state lists entries sorted by (user, infohash, peer id), whatever the "
            "announce order; under user_torrent keying entries report peer_id null.",
            config={"shard_count": 3})
    for now, (u, t, p) in enumerate(((3, 2, 2), (1, 2, 1), (3, 1, 1), (1, 1, 2), (1, 1, 1))):
        c.announce(now, u=u, t=t, p=p, up=now)
    st = c.state(10)
    keys = [(e.user, e.info_hash, e.peer_id or b"") for e in st.entries]
    c.want(keys, sorted(keys), "sorted")
    c.want(len(keys), 4 if preset == SEED else 5, "entries")
    c.want({e.peer_id is None for e in st.entries}, {preset == SEED}, "peer ids")
    return c.build()


@rule_case()
def r3_1_order(preset: str) -> Case:
    c = new(preset, "R3.1", "order-of-decisions",
            "The first applicable refusal wins: a bad credential with huge counters is "
            "bad_credential; an unknown stopped with a counter above 2**63-1 is "
            "counter_out_of_range under reject; after stop everything is closing.",
            rules=("R1.1", "R9.2", "R8.1"))
    c.want_outcome(c.announce(0, up=2**63, credential="/x/announce"), "rejected",
                   "bad_credential")
    obs = c.announce(1, up=2**63, event="stopped")
    if preset == SEED:
        c.want_outcome(obs, "baseline")
    else:
        c.want_outcome(obs, "rejected", "counter_out_of_range")
    c.stop(2)
    c.want_outcome(c.announce(3, up=2**63, credential="/x/announce"), "rejected", "closing")
    c.state(3)
    return c.build()


@rule_case()
def r3_3_records(preset: str) -> Case:
    c = new(preset, "R3.3", "transfer-record-fields",
            "A transfer record carries the announce's peer id, left, event and time; "
            "records keep their append order inside a batch.", config={"batch_size": 10})
    c.announce(0, t=1, p=3, up=0, left=9000)
    c.announce(0, t=2, p=4, up=0, left=50)
    c.announce(5, t=2, p=4, down=20, left=30)
    c.announce(6, t=1, p=3, up=7, left=8000)
    c.announce(7, t=2, p=4, down=50, left=0, event="completed")
    out = c.stop(8)
    recs = [r for d in out.deliveries for r in d.batch.records]
    c.want([(r.info_hash[0], r.peer_id[0] if r.peer_id else 0, r.left, r.event.value, r.time)
            for r in recs],
           [(0xA2, 0xC4, 30, "none", 5), (0xA1, 0xC3, 8000, "none", 6),
            (0xA2, 0xC4, 0, "completed", 7)], "records in append order")
    return c.build()


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
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


# -- further edges ---------------------------------------------------------------------


@rule_case()
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


@rule_case()
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


@rule_case()
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


@rule_case()
def r5_1_stopped_zero(preset: str) -> Case:
    c = new(preset, "R5.1", "stopped-without-bytes",
            "stopped with no new bytes removes the entry; only the recommended preset tells "
            "the handler (an event record).", rules=("R5.2",))
    c.announce(0, up=10, event="started")
    obs = c.announce(30, up=10, event="stopped")
    c.want_outcome(obs, "stopped")
    if preset == SEED:
        c.want_record(obs, None)
    else:
        c.want_record(obs, 0, 0, event="stopped", kind="event")
    c.want(c.state(30).entries, (), "entry removed")
    return c.build()


@rule_case()
def r4_2_started_lower(preset: str) -> Case:
    c = new(preset, "R4.2", "started-with-lower-counters",
            "started together with lower counters (the usual client restart): the seed "
            "credits a negative delta stamped started; the recommended preset resets.",
            rules=("R4.1",), defects=[3])
    c.announce(0, up=500, down=100)
    obs = c.announce(10, up=0, down=0, event="started")
    if preset == SEED:
        c.want_record(obs, -500, -100, event="started")
    else:
        c.want_outcome(obs, "reset")
    c.state(10)
    return c.build()
