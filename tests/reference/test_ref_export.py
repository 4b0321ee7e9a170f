"""R8.3: a tracker's state as plain values (export_state) and a tracker built from
them (from_export), the layer under snapshots; and the batcher's own part of it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ref_helpers import make, req

from privtrak.reference import (
    BatcherState,
    BufferState,
    EntryState,
    Event,
    Pending,
    Tracker,
    TrackerExport,
    UsageError,
    UserState,
    snapshot,
)
from privtrak.reference._batching import Batcher
from privtrak.reference._types import Batch


def busy(preset: str = "recommended", **keys: object) -> Tracker:
    """Entries of three users, a batch in flight, one waiting and records buffered."""
    t = make(preset, shard_count=2, max_batch_age="off", retry_backoff_initial="1h",
             retry_backoff_max="1h", **keys)
    for user in (1, 2, 3):
        t.announce(req(user=user, torrent=user), now=0)
    for user in (1, 2, 3):
        t.announce(req(user=user, torrent=user, up=10, event=Event.COMPLETED), now=1)
    t.collect_garbage(now=1)
    t.next_batch(now=2)
    for user in (1, 2, 3):
        t.announce(req(user=user, torrent=user, up=25), now=3)
    t.collect_garbage(now=3)
    t.announce(req(user=1, torrent=1, up=40), now=3)
    return t


@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_from_export_rebuilds_the_very_state(preset: str) -> None:
    t = busy(preset)
    exported = t.export_state()
    twin = Tracker.from_export(exported)
    assert snapshot(twin) == snapshot(t)
    assert twin.metrics() == t.metrics() and twin.ledger() == t.ledger()
    assert twin.entries() == t.entries()
    assert twin.buffered_records() == t.buffered_records()
    # The twin goes on exactly as the original does.
    for tracker in (t, twin):
        tracker.announce(req(user=4, torrent=2, up=5), now=5)
        tracker.announce(req(user=4, torrent=2, up=9), now=6)
    assert snapshot(twin) == snapshot(t)


def test_an_export_is_a_copy() -> None:
    t = busy()
    exported = t.export_state()
    before = snapshot(Tracker.from_export(exported))
    t.announce(req(user=1, torrent=1, up=99), now=4)
    while (batch := t.next_batch(now=4)) is not None:
        t.batch_succeeded(batch.batch_id, now=4)
    assert snapshot(Tracker.from_export(exported)) == before
    assert exported.batcher.waiting and exported.batcher.waiting[0].attempts == 0


def test_from_export_builds_the_class_it_is_called_on() -> None:
    class Tuned(Tracker):
        def _configure_hot_path(self) -> None:
            super()._configure_hot_path()
            self._batch_size = 1

    exported = busy().export_state()
    for cls in (Tracker, Tuned):
        twin = cls.from_export(exported)
        assert type(twin) is cls
        before = twin.metrics()
        twin.announce(req(user=5, torrent=5), now=4)
        twin.announce(req(user=5, torrent=5, up=3), now=5)
        after = twin.metrics()
        if cls is Tracker:
            assert after.batches_sealed == before.batches_sealed
            assert after.buffered_records == before.buffered_records + 1
        else:  # a buffer of one record is full: it is sealed at once
            assert after.batches_sealed > before.batches_sealed
            assert after.buffered_records == 0


def _export() -> TrackerExport:
    return busy().export_state()


def test_from_export_refuses_a_user_listed_twice() -> None:
    x = _export()
    with pytest.raises(UsageError, match="listed twice"):
        Tracker.from_export(replace(x, users=(*x.users, x.users[0])))


def test_from_export_refuses_an_entry_listed_twice() -> None:
    x = _export()
    user = x.users[0]
    doubled = replace(user, entries=(*user.entries, user.entries[0]))
    with pytest.raises(UsageError, match="listed twice"):
        Tracker.from_export(replace(x, users=(doubled, *x.users[1:])))


def test_from_export_refuses_a_cap_below_the_entries_and_a_bad_shard() -> None:
    x = _export()
    user = x.users[0]
    with pytest.raises(UsageError, match="cap 0 cannot hold"):
        Tracker.from_export(replace(x, users=(replace(user, cap=0), *x.users[1:])))
    with pytest.raises(UsageError, match="shard 2 is not below shard_count 2"):
        Tracker.from_export(replace(x, users=(replace(user, shard=2), *x.users[1:])))


def test_from_export_refuses_an_entry_that_does_not_fit_the_keying() -> None:
    x = _export()  # recommended: user_torrent_peer keying needs a peer id
    user = x.users[0]
    entry = replace(user.entries[0], peer_id=None)
    with pytest.raises(UsageError, match="peer id must be given"):
        Tracker.from_export(replace(x, users=(replace(user, entries=(entry,)), *x.users[1:])))


def test_from_export_refuses_counters_out_of_range_and_missing_ledger_fields() -> None:
    x = _export()
    user = x.users[0]
    entry = replace(user.entries[0], up=1 << 64)
    with pytest.raises(UsageError, match=r"outside 0\.\.2"):
        Tracker.from_export(replace(x, users=(replace(user, entries=(entry,)), *x.users[1:])))
    ledger = dict(x.ledger)
    del ledger["credited_up"]
    with pytest.raises(UsageError, match="credited_up"):
        Tracker.from_export(replace(x, ledger=ledger))


def test_the_home_peer_is_the_first_entry_listed() -> None:
    """A user's first listed peer becomes its home peer (see _entries); the others
    are stored folded, and every entry reads back the same."""
    x = _export()
    user = x.users[0]
    other = EntryState(user.entries[0].info_hash, bytes(range(20)), 7, 8, 2, False)  # type: ignore[arg-type]
    many = UserState(user.user, user.shard, None, (*user.entries, other))
    twin = Tracker.from_export(replace(x, users=(many, *x.users[1:])))
    assert twin.entry(user.user, other.info_hash, other.peer_id) is not None
    assert twin.export_state().users[0].entries == many.entries


# -- the batcher -------------------------------------------------------------------


def _batch(batch_id: int, shard: int | None = 0) -> Batch:
    tracker = make("seed", batch_size=1)
    result = tracker.announce(req(user=1), now=0)
    assert result.flush is None
    record = tracker.announce(req(user=1, up=5), now=1).record
    assert record is not None
    return Batch(batch_id, shard, (record,), 1)


def test_batcher_load_takes_over_an_export() -> None:
    b = Batcher(2)
    records = _batch(1).records
    state = BatcherState(5, 4, (BufferState(1, 1, records),),
                         (Pending(_batch(2), 0, 3),), (Pending(_batch(3), 1, 1),))
    b.load(state)
    assert b.export() == state
    assert b.buffered_records == 1 and b.sealed_records == 2 and b.pending_records == 3
    assert b.next_age_deadline(10) == 11


@pytest.mark.parametrize(("state", "message"), [
    (BatcherState(5, 4, (BufferState(2, 1, ()),), (), ()), "empty"),
    (BatcherState(5, 4, (BufferState(2, 1, ("r",)),), (), ()), "not a shard"),  # type: ignore[arg-type]
    (BatcherState(5, 4, (BufferState(None, 1, ("r",)),), (), ()), "not a shard"),  # type: ignore[arg-type]
    (BatcherState(3, 2, (), (Pending(_batch(3), 0, 1),), ()), "not below next_batch_id"),
    (BatcherState(5, 4, (), (Pending(_batch(2), 0, 1),), (Pending(_batch(2), 1, 1),)),
     "repeat"),
    (BatcherState(5, 4, (), (Pending(_batch(3), 0, 1), Pending(_batch(2), 0, 1)), ()),
     "not in id order"),
])
def test_batcher_load_refuses_a_broken_state(state: BatcherState, message: str) -> None:
    b = Batcher(2)
    with pytest.raises(UsageError, match=message):
        b.load(state)
    assert b.export() == BatcherState(1, 0, (), (), ())


def test_batcher_load_needs_a_new_batcher() -> None:
    b = Batcher(2)
    b.append(0, _batch(1).records[0], 0)
    with pytest.raises(UsageError, match="new batcher"):
        b.load(BatcherState(1, 0, (), (), ()))


def test_drop_waiting_keeps_the_pending_count() -> None:
    b = Batcher(1)
    record = _batch(1).records[0]
    for now in (1, 2):
        b.append(0, record, now)
        b.seal(0, now)
    b.append(0, record, 3)
    b.take(1)
    dropped = b.drop_waiting()
    assert [d.batch_id for d in dropped] == [2]
    assert b.pending_records == 2 and not b.waiting and b.in_flight
