"""Batching and delivery: triggers, flush path, batch identity, failures, back-pressure."""

from __future__ import annotations

import pytest
from ref_helpers import counts, ih, make, pid, req, state_doc, uid

from privtrak.reference import (
    Event,
    Outcome,
    RecordKind,
    RejectCode,
    Tracker,
    UsageError,
    restore,
    snapshot,
)


def credit(t: Tracker, torrent: int, up: int, now: int, user: int = 1) -> None:
    """Announce a baseline of 0 (if new) then ``up`` bytes, so one record appears."""
    if t.entry(uid(user), ih(torrent), pid(1)) is None:
        t.announce(req(user=user, torrent=torrent), now)
    t.announce(req(user=user, torrent=torrent, up=up), now)


# -- R6.1 --------------------------------------------------------------------------


def test_size_trigger_seals_full_buffers() -> None:
    """R6.1: a buffer reaching batch_size is sealed at once into a waiting batch."""
    t = make("recommended", batch_size=3, shard_count=1, max_batch_age="off",
             batch_scope="shard")
    credit(t, 1, 10, now=0)
    credit(t, 2, 20, now=1)
    assert t.waiting_batches() == []
    credit(t, 3, 30, now=2)
    [batch] = t.waiting_batches()
    assert (batch.batch_id, batch.shard, batch.sealed_at) == (1, 0, 2)
    assert [r.up for r in batch.records] == [10, 20, 30]
    assert t.buffered_records(0) == ()
    assert t.metrics().batches_sealed == 1


def test_purge_records_never_overfill_a_batch() -> None:
    """R6.1: off the announce path a buffer filled by purge records is sealed at once."""
    t = make("recommended", batch_size=2, shard_count=1, peer_lifetime=10,
             max_batch_age="off", flush_on_gc=False)
    for torrent in range(1, 6):
        t.announce(req(torrent=torrent), now=0)
    gc = t.collect_garbage(now=11)
    assert gc.removed_entries == 5
    assert [len(b.records) for b in t.waiting_batches()] == [2, 2]
    assert [r.info_hash[0] for r in t.buffered_records(0)] == [0xA5]  # ih(5): twenty 0xA5 bytes


def test_seed_rechecks_the_size_on_every_announce() -> None:
    """R6.1: on the seed's path the check runs even for an announce without a record."""
    t = make("seed", batch_size=2, shard_count=1)
    credit(t, 1, 10, now=0)
    r = t.announce(req(torrent=2, up=5), now=1)  # baseline: no record, buffer 1
    assert r.flush is None
    r = t.announce(req(torrent=2, up=8), now=2)
    assert r.flush is not None and [x.up for x in r.flush.records] == [10, 3]
    assert t.batch_failed(r.flush.batch_id, now=2) is True
    again = t.announce(req(torrent=2, up=8), now=3)  # zero credit, still re-sealed
    assert again.record is None
    assert again.flush is not None and again.flush.batch_id == 2
    assert [x.up for x in again.flush.records] == [10, 3]


# -- R6.2 --------------------------------------------------------------------------


def test_age_trigger_seals_after_max_batch_age() -> None:
    """R6.2: a buffer whose first record is max_batch_age old is sealed by next_batch."""
    t = make("recommended", max_batch_age="10s", gc_interval="1h")
    t.announce(req(), now=0)
    t.announce(req(up=5), now=5)
    assert t.next_deadline() == 15
    assert t.next_batch(now=14) is None
    t.announce(req(up=9), now=14)
    batch = t.next_batch(now=15)
    assert batch is not None and [r.up for r in batch.records] == [5, 4]
    assert batch.sealed_at == 15
    assert t.next_deadline() == 3600


def test_gc_trigger_seals_every_buffer_in_shard_order() -> None:
    """R6.2: flush_on_gc seals every non-empty buffer after the purge, by shard."""
    t = make("recommended", shard_count=4, max_batch_age="off", batch_scope="shard")
    users = [1, 2, 3, 4, 5, 6]
    for u in users:
        credit(t, 1, 10 * u, now=0, user=u)
    gc = t.collect_garbage(now=1)
    shards = sorted({t.shard_of(uid(u)) for u in users})
    assert len(gc.sealed) == len(shards)
    assert [b.shard for b in t.waiting_batches()] == shards
    assert [b.batch_id for b in t.waiting_batches()] == list(gc.sealed)
    assert sum(len(b.records) for b in t.waiting_batches()) == 6


def test_seed_flushes_by_size_only() -> None:
    """R6.2: the seed seals neither by age nor on GC."""
    t = make("seed", shard_count=1)
    credit(t, 1, 10, now=0)
    assert t.collect_garbage(now=1).sealed == ()
    assert t.next_batch(now=10**6) is None
    assert len(t.buffered_records(0)) == 1
    assert t.next_deadline() == 1 + 180


# -- R6.3 --------------------------------------------------------------------------


def test_background_path_never_hands_a_batch_to_the_announce() -> None:
    """R6.3: flush_path=background: the full batch waits for next_batch."""
    t = make("recommended", batch_size=1, shard_count=1)
    t.announce(req(), now=0)
    r = t.announce(req(up=1), now=1)
    assert r.flush is None and len(t.waiting_batches()) == 1
    assert t.in_flight_batches() == []
    b = t.next_batch(now=1)
    assert b is not None and t.in_flight_batches() == [b]


def test_seed_path_hands_the_batch_to_the_announce() -> None:
    """R6.3: flush_path=announce: the batch is in flight on the result; no second one is
    sealed for the shard while it is in flight."""
    t = make("seed", batch_size=1, shard_count=1)
    t.announce(req(), now=0)
    r = t.announce(req(up=1), now=1)
    assert r.flush is not None and t.in_flight_batches() == [r.flush]
    assert t.waiting_batches() == []
    r2 = t.announce(req(up=2), now=2)
    assert r2.flush is None and len(t.buffered_records(0)) == 1
    t.batch_succeeded(r.flush.batch_id, now=2)
    r3 = t.announce(req(up=3), now=3)
    assert r3.flush is not None and [x.up for x in r3.flush.records] == [1, 1]


# -- R6.4 --------------------------------------------------------------------------


def test_batch_ids_increase_and_smallest_goes_first() -> None:
    """R6.4: ids 1, 2, 3 in sealing order; next_batch takes the smallest due id."""
    t = make("recommended", batch_size=1, shard_count=1)
    t.announce(req(), now=0)
    for n in (1, 2, 3):
        t.announce(req(up=n), now=n)
    assert [b.batch_id for b in t.waiting_batches()] == [1, 2, 3]
    got = [t.next_batch(now=3) for _ in range(3)]
    assert [b.batch_id for b in got if b is not None] == [1, 2, 3]
    assert t.next_batch(now=3) is None


def test_outcomes_are_reported_once_for_batches_in_flight() -> None:
    """R6.4: an outcome for a batch not in flight raises UsageError and changes nothing."""
    t = make("recommended", batch_size=1, shard_count=1)
    credit(t, 1, 10, now=0)
    with pytest.raises(UsageError, match="batch 1 is not in flight"):
        t.batch_succeeded(1, now=0)  # waiting, not handed out
    b = t.next_batch(now=0)
    assert b is not None
    t.batch_succeeded(b.batch_id, now=0)
    before, before_counts = state_doc(t), counts(t)
    with pytest.raises(UsageError):
        t.batch_succeeded(b.batch_id, now=0)
    with pytest.raises(UsageError):
        t.batch_failed(b.batch_id, now=0)
    with pytest.raises(UsageError):
        t.batch_failed(77, now=0)
    assert state_doc(t) == before and counts(t) == before_counts
    assert t.ledger().delivered_up == 10 and t.metrics().records_delivered == 1


def test_retried_batch_is_identical() -> None:
    """R6.4: a failed batch is offered again with the same id and records."""
    t = make("recommended", batch_size=2, shard_count=1, retry_backoff_initial=1)
    credit(t, 1, 10, now=0)
    credit(t, 2, 20, now=0)
    first = t.next_batch(now=0)
    assert first is not None
    t.batch_failed(first.batch_id, now=0)
    credit(t, 3, 30, now=0)
    credit(t, 4, 40, now=0)
    second = t.next_batch(now=1)
    assert second == first
    assert t.attempts(first.batch_id) == 2
    t.batch_succeeded(second.batch_id, now=1)
    third = t.next_batch(now=1)
    assert third is not None and third.batch_id == 2
    assert [r.up for r in third.records] == [30, 40]


# -- R6.5 --------------------------------------------------------------------------


def test_retain_backs_off_exponentially_up_to_the_cap() -> None:
    """R6.5: not_before = now + min(initial * 2**(attempts-1), max): 2, 4, then 5."""
    t = make("recommended", batch_size=1, shard_count=1, retry_backoff_initial="2s",
             retry_backoff_max="5s", gc_interval="1h", max_batch_age="off")
    credit(t, 1, 10, now=0)
    schedule = []
    now = 10
    for _ in range(4):
        b = t.next_batch(now)
        assert b is not None and b.batch_id == 1
        t.batch_failed(b.batch_id, now)
        due = t.next_deadline()
        assert due is not None
        assert t.next_batch(due - 1) is None
        schedule.append(due - now)
        now = due
    assert schedule == [2, 4, 5, 5]
    assert t.attempts(1) == 4
    assert t.metrics().batches_failed == 4


def test_seed_merges_failed_records_into_the_buffer() -> None:
    """R6.5: failed_batch=merge puts the records back in front; the next seal gets a new id."""
    t = make("seed", batch_size=2, shard_count=1)
    credit(t, 1, 10, now=0)
    r = t.announce(req(torrent=2), now=0)
    r = t.announce(req(torrent=2, up=20), now=1)
    assert r.flush is not None and r.flush.batch_id == 1
    t.batch_failed(1, now=1)
    assert [x.up for x in t.buffered_records(0)] == [10, 20]
    r = t.announce(req(torrent=1, up=15), now=2)
    assert r.flush is not None and r.flush.batch_id == 2
    assert [x.up for x in r.flush.records] == [10, 20, 5]
    assert t.metrics().pending_records == 3


# -- R6.6 --------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "keys", "fails"), [
    ("seed", {}, True),
    ("seed", {"handler_failure": "announce_unaffected"}, False),
    ("recommended", {"flush_path": "announce"}, False),
    ("recommended", {"flush_path": "announce", "handler_failure": "fail_announce"}, True),
])
def test_failure_fails_the_announce_only_under_fail_announce(
        preset: str, keys: dict[str, str], fails: bool) -> None:
    """R6.6: batch_failed returns True only for an on-path batch under fail_announce,
    and such refusals are counted as handler_failed."""
    t = make(preset, batch_size=1, shard_count=1, **keys)
    t.announce(req(), now=0)
    r = t.announce(req(up=1), now=1)
    assert r.flush is not None
    assert t.batch_failed(r.flush.batch_id, now=1) is fails
    assert t.metrics().rejected["handler_failed"] == int(fails)


def test_background_failure_never_fails_an_announce() -> None:
    """R6.6: batches taken by next_batch are off the path: batch_failed returns False."""
    t = make("recommended", batch_size=1, shard_count=1, handler_failure="fail_announce")
    credit(t, 1, 10, now=0)
    b = t.next_batch(now=0)
    assert b is not None and t.batch_failed(b.batch_id, now=0) is False


# -- R6.7 --------------------------------------------------------------------------


def test_back_pressure_refuses_and_loses_nothing() -> None:
    """R6.7: past max_pending the announce is refused, the baseline stays, and the
    bytes are credited by the next accepted announce."""
    t = make("recommended", max_pending=2, shard_count=1, max_batch_age="off")
    credit(t, 1, 10, now=0)
    credit(t, 2, 20, now=0)
    before = state_doc(t)
    r = t.announce(req(torrent=1, up=50), now=1)
    assert (r.outcome, r.reject) == (Outcome.REJECTED, RejectCode.PENDING_FULL)
    assert "max_pending=2" in r.message
    assert state_doc(t) == {**before, "now": 1}
    assert t.metrics().pending_records == 2
    t.collect_garbage(now=1)  # flush_on_gc seals
    deliver = t.next_batch(now=1)
    assert deliver is not None
    t.batch_succeeded(deliver.batch_id, now=1)
    later = t.announce(req(torrent=1, up=70), now=2)
    assert (later.outcome, later.credited_up) == (Outcome.CREDITED, 60)
    assert t.metrics().rejected["pending_full"] == 1


def test_back_pressure_counts_event_and_purge_records() -> None:
    """R6.7: an expire-on-announce needs room for its purge record and its event record."""
    t = make("recommended", max_pending=2, shard_count=1, max_batch_age="off",
             peer_lifetime=10)
    t.announce(req(torrent=1), now=0)
    credit(t, 2, 5, now=11)
    r = t.announce(req(torrent=1, up=3, event=Event.STARTED), now=11)
    assert r.reject is RejectCode.PENDING_FULL
    t.announce(req(torrent=3, event=Event.STARTED), now=11)
    assert t.metrics().pending_records == 2


def test_purges_wait_for_room() -> None:
    """R6.7: a purge record that would exceed max_pending is deferred, then done."""
    t = make("recommended", max_pending=1, shard_count=1, max_batch_age="off",
             peer_lifetime=10, flush_on_gc=False)
    credit(t, 1, 10, now=0)
    gc = t.collect_garbage(now=11)
    assert (gc.removed_entries, gc.deferred) == (0, 1)
    assert len(t.entries()) == 1
    assert t.metrics().purges_deferred == 1
    t.stop(now=12)  # seal and hand out the transfer record
    t.batch_succeeded(1, now=12)
    gc2 = t.collect_garbage(now=12)
    assert (gc2.removed_entries, gc2.deferred) == (1, 0)
    assert [r.kind for r in t.buffered_records(0)] == [RecordKind.PURGE]


def test_announce_record_seals_before_its_purges_join() -> None:
    """R6.1, R7.1: off the announce path the announce's own record seals a full buffer
    before the purge records of purge_on_announce are appended."""
    t = make("recommended", batch_size=2, shard_count=1, peer_lifetime=10,
             max_batch_age="off", purge_on_announce=True)
    t.announce(req(torrent=1), now=0)
    t.announce(req(torrent=2), now=0)
    credit(t, 3, 7, now=5)
    r = t.announce(req(torrent=3, up=10), now=11)  # fills the buffer, then purges 1 and 2
    assert r.credited_up == 3
    first, second = t.waiting_batches()
    assert [(x.kind, x.up) for x in first.records] == [
        (RecordKind.TRANSFER, 7), (RecordKind.TRANSFER, 3)]
    assert [(x.kind, x.info_hash) for x in second.records] == [
        (RecordKind.PURGE, ih(1)), (RecordKind.PURGE, ih(2))]
    assert t.buffered_records(0) == ()


def test_seed_batches_group_users_by_fnv_shard() -> None:
    """R2.3, R6.1: fnv1a_32(uid(n)) is 0xf6cd2bf2, 0x4163baff, 0x5cb81e6c, 0x42fe7a39 for
    n = 1..4 (the hash of fifteen bytes n * 0x11 then 0x00, worked out with the FNV-1a
    loop of SPEC.md R2.3), so with two shards (the low bit: 0, 1, 0, 1) users 1 and 3
    share shard 0 and users 2 and 4 shard 1; each shard fills and flushes its own batch."""
    t = make("seed", shard_count=2, batch_size=2)
    assert [t.shard_of(uid(n)) for n in (1, 2, 3, 4)] == [0, 1, 0, 1]
    for n in (1, 2, 3, 4):
        t.announce(req(user=n), now=0)
    flushes = [t.announce(req(user=n, up=n), now=1).flush for n in (1, 2, 3, 4)]
    assert flushes[0] is None and flushes[1] is None
    first, second = flushes[2], flushes[3]
    assert first is not None and second is not None
    assert (first.batch_id, first.shard, [r.user for r in first.records]) == (
        1, 0, [uid(1), uid(3)])
    assert (second.batch_id, second.shard, [r.user for r in second.records]) == (
        2, 1, [uid(2), uid(4)])


# -- R6.8 --------------------------------------------------------------------------
# With shard_count=4, uid(1), uid(2), uid(3), uid(4) fall in shards 2, 3, 0, 1 (the low
# two bits of the fnv1a_32 values in test_seed_batches_group_users_by_fnv_shard), so every
# global batch below mixes shards that shard scope would keep apart.


def global_tracker(preset: str = "recommended", **keys: object) -> Tracker:
    t = make(preset, shard_count=4, batch_scope="global", **keys)
    assert [t.shard_of(uid(n)) for n in (1, 2, 3, 4)] == [2, 3, 0, 1]
    return t


def test_global_size_trigger_seals_records_of_every_shard() -> None:
    """R6.8, R6.1: one buffer for the tracker; the third record, whatever its shard,
    fills it to batch_size=3 and seals it as batch 1 with shard None."""
    t = global_tracker(batch_size=3, max_batch_age="off")
    credit(t, 1, 10, now=0, user=1)
    credit(t, 1, 20, now=1, user=2)
    assert t.waiting_batches() == [] and len(t.buffered_records()) == 2
    assert [r.up for r in t.buffered_records(3)] == [20]  # uid(2)'s shard
    credit(t, 1, 30, now=2, user=3)
    [batch] = t.waiting_batches()
    assert (batch.batch_id, batch.shard, batch.sealed_at) == (1, None, 2)
    assert [(r.user, r.up) for r in batch.records] == [(uid(1), 10), (uid(2), 20),
                                                       (uid(3), 30)]
    assert t.buffered_records() == ()
    shard_scope = make("recommended", shard_count=4, batch_size=3, max_batch_age="off",
                       batch_scope="shard")
    for n in (1, 2, 3):
        credit(shard_scope, 1, 10 * n, now=n - 1, user=n)
    assert shard_scope.waiting_batches() == []  # three shards, one record each


def test_global_age_trigger_uses_the_oldest_record_of_any_shard() -> None:
    """R6.8, R6.2: the global buffer is as old as its first record (user 1 at t=3):
    deadline 3 + 10 = 13, and the batch takes user 2's later record too."""
    t = global_tracker(max_batch_age="10s")
    credit(t, 1, 5, now=3, user=1)
    credit(t, 1, 7, now=8, user=2)
    assert t.next_deadline() == 13
    assert t.next_batch(now=12) is None
    batch = t.next_batch(now=13)
    assert batch is not None and (batch.batch_id, batch.shard, batch.sealed_at) == (1, None, 13)
    assert [(r.user, r.up) for r in batch.records] == [(uid(1), 5), (uid(2), 7)]
    assert t.next_deadline() == 180  # only the GC is left


def test_global_gc_trigger_seals_one_batch() -> None:
    """R6.8, R6.2: flush_on_gc seals the one buffer: six users in four shards, one batch
    of six records in announce order."""
    t = global_tracker(max_batch_age="off")
    for u in range(1, 7):
        credit(t, 1, 10 * u, now=0, user=u)
    gc = t.collect_garbage(now=1)
    assert gc.sealed == (1,)
    [batch] = t.waiting_batches()
    assert batch.shard is None and [r.up for r in batch.records] == [10, 20, 30, 40, 50, 60]


def test_global_merge_puts_a_failed_batch_back_in_front() -> None:
    """R6.8, R6.5: under merge the failed batch's records go back in front of the global
    buffer, which becomes as old as their first record (t=0): the age trigger fires at
    0 + 10 = 10 and seals them with the newer record under the new id 2."""
    t = global_tracker(batch_size=2, max_batch_age="10s", failed_batch="merge")
    credit(t, 1, 10, now=0, user=1)
    credit(t, 1, 20, now=1, user=2)
    credit(t, 1, 30, now=2, user=3)
    first = t.next_batch(now=2)
    assert first is not None and [r.up for r in first.records] == [10, 20]
    t.batch_failed(first.batch_id, now=3)
    assert [r.up for r in t.buffered_records()] == [10, 20, 30]
    assert [r.up for r in t.buffered_records(3)] == [20]
    assert t.next_deadline() == 10
    assert t.next_batch(now=9) is None
    second = t.next_batch(now=10)
    assert second is not None and (second.batch_id, second.shard) == (2, None)
    assert [r.up for r in second.records] == [10, 20, 30]


def test_global_retain_retries_the_identical_batch() -> None:
    """R6.8, R6.5: under retain a failed global batch waits 1 s and comes back identical."""
    t = global_tracker(batch_size=2, max_batch_age="off")
    credit(t, 1, 10, now=0, user=1)
    credit(t, 1, 20, now=0, user=2)
    first = t.next_batch(now=0)
    assert first is not None and first.shard is None
    t.batch_failed(first.batch_id, now=0)
    credit(t, 1, 30, now=0, user=3)
    assert t.buffered_records() != () and t.next_batch(now=0) is None
    again = t.next_batch(now=1)
    assert again == first and t.attempts(first.batch_id) == 2


def test_global_on_path_waits_for_the_batch_in_flight() -> None:
    """R6.8, R6.3: flush_path=announce hands a full global batch to the announce; while
    it is in flight no other is sealed, whatever shard announces; the next announce
    after its success takes the grown buffer."""
    t = global_tracker("seed", batch_size=2)
    credit(t, 1, 10, now=0, user=1)
    r = t.announce(req(user=2), now=0)
    r = t.announce(req(user=2, up=20), now=1)
    assert r.flush is not None and (r.flush.batch_id, r.flush.shard) == (1, None)
    assert [x.user for x in r.flush.records] == [uid(1), uid(2)]
    credit(t, 1, 30, now=2, user=3)
    r2 = t.announce(req(user=4), now=2)
    r2 = t.announce(req(user=4, up=40), now=3)
    assert r2.flush is None and [x.up for x in t.buffered_records()] == [30, 40]
    t.batch_succeeded(1, now=3)
    r3 = t.announce(req(user=1, up=10), now=4)  # no record; the seed still checks
    assert r3.flush is not None and [x.up for x in r3.flush.records] == [30, 40]


def test_global_stop_seals_the_one_buffer() -> None:
    """R6.8, R8: stop hands out the size-sealed batches 1 and 2 and seals the rest of the
    one buffer into batch 3."""
    t = global_tracker(batch_size=2, max_batch_age="off")
    for u in (1, 2, 3, 4, 5):
        credit(t, 1, 10 * u, now=0, user=u)
    handed = t.stop(now=1)
    assert [(b.batch_id, b.shard, [r.up for r in b.records]) for b in handed] == [
        (1, None, [10, 20]), (2, None, [30, 40]), (3, None, [50])]


def test_global_snapshot_round_trip() -> None:
    """R6.8, R8.3: the global buffer is one entry with shard null; a restored tracker
    writes the same snapshot and seals the same batches."""
    t = global_tracker(batch_size=2, max_batch_age="10s")
    for u in (1, 2, 3):
        credit(t, 1, 10 * u, now=0, user=u)
    assert t.next_batch(now=0) is not None  # batch 1 in flight, [30] buffered
    doc = snapshot(t)
    assert doc["version"] == 2 and doc["config"]["batch_scope"] == "global"
    assert [(b["shard"], len(b["records"])) for b in doc["buffers"]] == [(None, 1)]
    assert doc["in_flight"][0]["batch"]["shard"] is None
    twin = restore(doc)
    assert snapshot(twin) == doc
    for tracker in (t, twin):
        credit(tracker, 2, 5, now=4, user=4)
    assert [b.records for b in twin.waiting_batches()] == [
        b.records for b in t.waiting_batches()]
    assert snapshot(twin) == snapshot(t)


@pytest.mark.parametrize("scope", ["shard", "global"])
def test_buffered_records_reads_every_buffer_or_one_shard(scope: str) -> None:
    """R6.8: buffered_records() is every buffered record (shard buffers in shard order, or
    the global buffer in append order); buffered_records(shard) that shard's users' only;
    a shard outside 0..shard_count-1 is a UsageError."""
    t = make("recommended", shard_count=4, max_batch_age="off", batch_scope=scope)
    for u in (1, 2, 3):  # shards 2, 3, 0
        credit(t, 1, 10 * u, now=0, user=u)
    every = [r.up for r in t.buffered_records()]
    assert every == ([30, 10, 20] if scope == "shard" else [10, 20, 30])
    assert [[r.up for r in t.buffered_records(s)] for s in range(4)] == [[30], [], [10], [20]]
    with pytest.raises(UsageError, match="shard 4"):
        t.buffered_records(4)
