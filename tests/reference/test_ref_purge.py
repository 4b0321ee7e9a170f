"""Purge: garbage collection, purge on announce, stale entries, the seed's crash (R7)."""

from __future__ import annotations

import pytest
from ref_helpers import ih, make, pid, req, uid

from privtrak.reference import (
    Cause,
    DeltaRecord,
    Event,
    Outcome,
    RecordKind,
    UsageError,
)


@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_gc_removes_exactly_the_entries_older_than_the_lifetime(preset: str) -> None:
    """R7: last_seen < now - peer_lifetime goes; exactly peer_lifetime old stays."""
    t = make(preset, peer_lifetime="100s", gc_interval="30s", expiry_panic="complete")
    t.announce(req(user=1, torrent=1), now=0)
    t.announce(req(user=1, torrent=2), now=50)
    t.announce(req(user=2, torrent=1), now=60)
    kept = t.collect_garbage(now=100)
    assert (kept.removed_entries, kept.removed_users, kept.scanned) == (0, 0, 3)
    assert t.next_gc_at == 130
    gone = t.collect_garbage(now=101)
    assert (gone.removed_entries, gone.removed_users) == (1, 0)
    assert [(e.user, e.info_hash) for e in t.entries()] == [(uid(1), ih(2)), (uid(2), ih(1))]
    last = t.collect_garbage(now=161)
    assert (last.removed_entries, last.removed_users) == (2, 2)
    assert t.metrics().users == 0 and t.metrics().purged_entries == 3
    assert t.metrics().gc_runs == 3 and t.metrics().gc_entries_scanned == 3 + 3 + 2


def test_default_lifetimes() -> None:
    """R7: peer_lifetime defaults to 1h (recommended) and 30m (seed); gc every 3m."""
    rec, seed = make("recommended"), make("seed")
    assert (rec.config.peer_lifetime, seed.config.peer_lifetime) == (3600, 1800)
    assert rec.next_gc_at == seed.next_gc_at == 180


def test_gc_after_close_is_a_usage_error_but_allowed_while_stopping() -> None:
    """R7: GC runs while open or stopping; after close it raises UsageError."""
    t = make("recommended", peer_lifetime=10)
    t.announce(req(), now=0)
    t.stop(now=1)
    assert t.collect_garbage(now=20).removed_entries == 1
    t.close(now=20)
    with pytest.raises(UsageError, match="after close"):
        t.collect_garbage(now=21)


def test_seed_purges_the_users_stale_entries_on_announce() -> None:
    """R7.1: purge_on_announce removes the announcing user's other stale entries."""
    t = make("seed", expiry_panic="complete")
    t.announce(req(torrent=1), now=0)
    t.announce(req(torrent=2), now=0)
    t.announce(req(user=2, torrent=1), now=0)
    r = t.announce(req(torrent=2, up=5), now=1801)
    assert r.outcome is Outcome.CREDITED
    assert [(e.user, e.info_hash) for e in t.entries()] == [(uid(1), ih(2)), (uid(2), ih(1))]
    assert t.metrics().purged_entries == 1


def test_recommended_does_not_purge_on_announce() -> None:
    """R7.1: purge_on_announce=false leaves other stale entries to GC."""
    t = make("recommended", peer_lifetime="30m")
    t.announce(req(torrent=1), now=0)
    t.announce(req(torrent=2), now=1801)
    assert len(t.entries()) == 2
    assert t.collect_garbage(now=1801).removed_entries == 1


def test_recommended_expires_a_stale_entry_on_announce() -> None:
    """R7.2: stale_on_announce=expire: purge record, new baseline, purge_gap attributed."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(up=10, down=1), now=0)
    r = t.announce(req(up=25, down=2), now=101)
    assert (r.outcome, r.credited_up, r.cause) == (Outcome.EXPIRED, 0, Cause.PURGE_GAP)
    assert (r.attributed_up, r.attributed_down) == (25, 2)
    assert t.buffered_records(t.shard_of(uid(1))) == (
        DeltaRecord(RecordKind.PURGE, uid(1), ih(1), pid(1), 0, 0, Event.NONE, None, 101),)
    e = t.entry(uid(1), ih(1), pid(1))
    assert e is not None and (e.uploaded, e.last_seen) == (25, 101)
    assert t.metrics().outcomes["expired"] == 1 and t.metrics().purged_entries == 1


def test_expired_with_stopped() -> None:
    """R7.2: a stopped announce meeting a stale entry: stopped_unknown under ignore (the
    stale entry is purged), expired with a new baseline under insert_baseline."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(up=10), now=0)
    r = t.announce(req(up=25, event=Event.STOPPED), now=101)
    assert (r.outcome, r.record) == (Outcome.STOPPED_UNKNOWN, None)
    assert t.entries() == [] and t.metrics().purged_entries == 1
    m = make("recommended", peer_lifetime=100, stopped_unknown="insert_baseline")
    m.announce(req(up=10), now=0)
    r2 = m.announce(req(up=25, event=Event.STOPPED), now=101)
    assert r2.outcome is Outcome.EXPIRED
    e = m.entry(uid(1), ih(1), pid(1))
    assert e is not None and e.uploaded == 25


def test_seed_revives_a_stale_entry() -> None:
    """R7.2: stale_on_announce=revive credits against a stale, unpurged entry."""
    t = make("seed", purge_on_announce=False)
    t.announce(req(up=10), now=0)
    r = t.announce(req(up=25), now=5000)
    assert (r.outcome, r.credited_up) == (Outcome.CREDITED, 15)


def test_expiry_crash_when_a_stale_entry_is_not_the_last() -> None:
    """R7.3: a user whose stale entry is followed (in key order) by another: the seed
    panics; the reference reports seed_would_panic and purges correctly."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(torrent=1), now=0)       # stale, first in key order
    t.announce(req(torrent=2), now=50)      # fresh, last
    t.announce(req(user=2, torrent=3), now=50)
    gc = t.collect_garbage(now=101)
    assert gc.seed_would_panic is True
    assert gc.removed_entries == 1
    assert [(e.user, e.info_hash) for e in t.entries()] == [(uid(1), ih(2)), (uid(2), ih(3))]
    assert t.metrics().seed_panics == 1


def test_no_crash_when_the_stale_entry_is_the_last() -> None:
    """R7.3: the only stale entry is the user's last in key order: no panic."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(torrent=2), now=0)       # stale, last in key order
    t.announce(req(torrent=1), now=50)      # fresh, first
    gc = t.collect_garbage(now=101)
    assert (gc.seed_would_panic, gc.removed_entries) == (False, 1)
    assert [e.info_hash for e in t.entries()] == [ih(1)]
    assert t.metrics().seed_panics == 0


def test_no_crash_when_every_entry_is_stale_and_only_one_exists() -> None:
    """R7.3: a single stale entry is its user's last: no panic; two stale ones panic."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(user=1, torrent=1), now=0)
    assert t.collect_garbage(now=101).seed_would_panic is False
    t.announce(req(user=1, torrent=1), now=200)
    t.announce(req(user=1, torrent=2), now=200)
    gc = t.collect_garbage(now=301)
    assert (gc.seed_would_panic, gc.removed_entries, gc.removed_users) == (True, 2, 1)


def test_crash_key_order_includes_the_peer_id() -> None:
    """R7.3: under user_torrent_peer keying the order is infohash then peer id."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(torrent=1, peer=2), now=0)   # stale
    t.announce(req(torrent=1, peer=3), now=50)  # fresh, after it in key order
    assert t.collect_garbage(now=101).seed_would_panic is True
    u = make("recommended", peer_lifetime=100)
    u.announce(req(torrent=1, peer=3), now=0)   # stale, last
    u.announce(req(torrent=1, peer=2), now=50)
    assert u.collect_garbage(now=101).seed_would_panic is False


def test_seed_crash_on_the_announce_path() -> None:
    """R7.3: under purge_on_announce the announce result reports the panic."""
    t = make("seed", expiry_panic="complete")
    t.announce(req(torrent=1), now=0)
    t.announce(req(torrent=2), now=0)
    r = t.announce(req(torrent=2, up=5), now=1801)
    assert r.seed_would_panic is True and r.credited_up == 5
    assert [e.info_hash for e in t.entries()] == [ih(2)]
    s = make("seed")
    s.announce(req(torrent=2), now=0)
    s.announce(req(torrent=1), now=0)
    r2 = s.announce(req(torrent=1, up=5), now=1801)
    assert r2.seed_would_panic is False
    assert [e.info_hash for e in s.entries()] == [ih(1)]


def test_purge_records_close_the_session() -> None:
    """R7.4: each purged entry appends (purge, user, info_hash, peer_id, 0, 0, none, None, now)."""
    t = make("recommended", peer_lifetime=100, max_batch_age="off", flush_on_gc=False)
    t.announce(req(torrent=2, peer=5), now=0)
    t.announce(req(torrent=1, peer=5), now=0)
    t.collect_garbage(now=101)
    assert t.buffered_records(t.shard_of(uid(1))) == (
        DeltaRecord(RecordKind.PURGE, uid(1), ih(1), pid(5), 0, 0, Event.NONE, None, 101),
        DeltaRecord(RecordKind.PURGE, uid(1), ih(2), pid(5), 0, 0, Event.NONE, None, 101),
    )
    assert t.metrics().records["purge"] == 2
    s = make("seed", peer_lifetime=100, purge_records=True)
    s.announce(req(torrent=1), now=0)
    s.collect_garbage(now=101)
    [rec] = s.buffered_records(s.shard_of(uid(1)))
    assert (rec.kind, rec.peer_id) == (RecordKind.PURGE, None)


def test_seed_purges_silently() -> None:
    """R7.4: purge_records=false: a purge leaves no record."""
    t = make("seed", peer_lifetime=100)
    t.announce(req(), now=0)
    assert t.collect_garbage(now=101).removed_entries == 1
    assert t.metrics().pending_records == 0
