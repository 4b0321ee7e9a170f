"""Hand-written cases for the batch scope (SPEC.md R6.8), for both presets.

They join each preset's rule cases (``seed.json``, ``recommended.json``).
With ``shard_count`` 4, users 1, 2, 3 and 4 fall in shards 2, 3, 0 and 1
(``fnv1a_32`` of their ids; every case checks it), so a batch holding
records of several of them crosses shards. The seed preset batches per
shard and the recommended one globally; cases that set ``batch_scope``
explicitly show the other scope under each preset's remaining policies.
Every expectation below is stated by hand.
"""

from __future__ import annotations

from typing import Any

from privtrak.reference import shard_of
from privtrak.reference.ids import user

from ._cases import CaseBuilder
from ._cases_rules_base import SEED, new
from ._vectors import Case

FOUR_SHARDS: dict[str, Any] = {"shard_count": 4}


def _check_shards(c: CaseBuilder) -> None:
    c.want([shard_of(user(n), 4) for n in (1, 2, 3, 4)], [2, 3, 0, 1], "shards of users 1-4")


def _users_of(batch_records: Any) -> list[int]:
    """Small user numbers of a batch's records (user n's id ends with n * 0x11 bytes)."""
    return [r.user[0] // 0x11 for r in batch_records]


def scope_one_buffer(preset: str) -> Case:
    c = new(preset, "R6.8", "one-buffer-across-shards",
            "batch_size 3, three users in three shards credit once each. The seed's shard "
            "buffers hold one record each and seal nothing; the recommended global buffer "
            "holds all three, seals them as one batch with shard null, delivered at once.",
            config={**FOUR_SHARDS, "batch_size": 3, "max_batch_age": "off"},
            rules=("R6.1", "R2.3"))
    _check_shards(c)
    for n in (1, 2, 3):
        c.announce(0, u=n)
    third = None
    for n in (1, 2, 3):
        third = c.announce(10, u=n, up=10 * n)
    assert third is not None
    passed = c.deliver(10)
    if preset == SEED:
        c.want((third.deliveries, passed.deliveries), ((), ()), "nothing sealed")
        c.want(c.state(10).pending_records, 3, "three records buffered")
    else:
        c.want(third.deliveries, (), "no on-path delivery")
        c.want([(d.batch.batch_id, d.batch.shard, _users_of(d.batch.records),
                 [r.up for r in d.batch.records]) for d in passed.deliveries],
               [(1, None, [1, 2, 3], [10, 20, 30])], "one global batch")
        c.want(c.state(10).pending_records, 0, "nothing pending")
    return c.build()


def scope_age_gc_stop(preset: str) -> Case:
    c = new(preset, "R6.8", "global-age-gc-and-stop",
            "batch_scope global, max_batch_age 10, flush_on_gc: the one buffer is as old as "
            "its first record of any shard (user 1 at t=1, sealed at 11 with user 2's record "
            "of t=5); GC at 60 seals it again whole; stop seals the rest as one batch.",
            config={**FOUR_SHARDS, "batch_scope": "global", "max_batch_age": 10,
                    "flush_on_gc": True, "gc_interval": 60, "flush_path": "background"},
            rules=("R6.2", "R8"))
    _check_shards(c)
    for n in (1, 2, 3):
        c.announce(0, u=n)
    c.announce(1, u=1, up=10)
    c.announce(5, u=2, up=20)
    c.want(c.deliver(10).deliveries, (), "not aged at 10")
    on_age = c.deliver(11).deliveries
    c.want([(d.batch.shard, d.batch.sealed_at, _users_of(d.batch.records)) for d in on_age],
           [(None, 11, [1, 2])], "sealed on age at 1 + 10")
    c.announce(20, u=3, up=30)
    c.announce(21, u=1, up=15)
    c.gc(60)
    after_gc = c.deliver(60).deliveries
    c.want([(d.batch.shard, d.batch.sealed_at, [r.up for r in d.batch.records])
            for d in after_gc], [(None, 60, [30, 5])], "sealed by GC")
    c.announce(61, u=2, up=22)
    c.announce(62, u=3, up=33)
    stopped = c.stop(63)
    c.want([(d.batch.batch_id, d.batch.shard, [r.up for r in d.batch.records])
            for d in stopped.deliveries], [(3, None, [2, 3])], "stop seals one batch")
    return c.build()


def scope_merge_and_on_path(preset: str) -> Case:
    c = new(preset, "R6.8", "global-merge-on-path",
            "batch_scope global with the seed's announce path and merge: the announce of "
            "user 2 fills the buffer to batch_size 2 and delivers users 1 and 2 on its path; "
            "the delivery fails, the records go back in front of the one buffer, and the "
            "next announce, of user 3 in another shard, delivers all three under id 2.",
            config={**FOUR_SHARDS, "batch_scope": "global", "batch_size": 2,
                    "flush_path": "announce", "failed_batch": "merge",
                    "handler_failure": "fail_announce", "max_batch_age": "off"},
            rules=("R6.3", "R6.5", "R6.6"))
    _check_shards(c)
    for n in (1, 2, 3):
        c.announce(0, u=n)
    c.handler("fail")
    c.want(c.announce(10, u=1, up=1).deliveries, (), "one record: nothing sealed")
    first = c.announce(11, u=2, up=2)
    c.want([(d.batch.batch_id, d.batch.shard, _users_of(d.batch.records), d.outcome.value)
            for d in first.deliveries], [(1, None, [1, 2], "fail")], "on-path global batch")
    c.want_outcome(first, "credited", "handler_failed")
    again = c.announce(12, u=3, up=3)
    c.want([(d.batch.batch_id, d.batch.shard, _users_of(d.batch.records), d.outcome.value)
            for d in again.deliveries], [(2, None, [1, 2, 3], "ok")], "merged, new id")
    c.want(c.state(12).pending_records, 0, "nothing pending")
    return c.build()


def scope_shard_under_recommended(preset: str) -> Case:
    c = new(preset, "R6.8", "shard-scope-age",
            "batch_scope shard with an age trigger: two users of two shards credit at t=1 "
            "and t=5; each shard buffer ages on its own, sealed at 11 and 15 as two "
            "batches, each of one shard.",
            config={**FOUR_SHARDS, "batch_scope": "shard", "max_batch_age": 10,
                    "flush_path": "background"},
            rules=("R6.2", "R2.3"))
    _check_shards(c)
    c.announce(0, u=1)
    c.announce(0, u=2)
    c.announce(1, u=1, up=10)
    c.announce(5, u=2, up=20)
    c.want([(d.batch.shard, d.batch.sealed_at) for d in c.deliver(11).deliveries],
           [(2, 11)], "user 1's shard on its age")
    c.want([(d.batch.shard, d.batch.sealed_at) for d in c.deliver(15).deliveries],
           [(3, 15)], "user 2's shard on its age")
    return c.build()


def scope_cases(preset: str) -> list[Case]:
    """The R6.8 cases for ``preset``, in file order."""
    return [build(preset) for build in (scope_one_buffer, scope_age_gc_stop,
                                        scope_merge_and_on_path,
                                        scope_shard_under_recommended)]
