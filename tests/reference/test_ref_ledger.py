"""The ledger (R11) and the metrics (R12)."""

from __future__ import annotations

from ref_helpers import make, req, uid

from privtrak.reference import Cause, Event, RecordKind, Tracker, restore, snapshot


def held_transfer_bytes(t: Tracker) -> tuple[int, int]:
    """Sum of up/down over transfer records buffered, waiting or in flight."""
    records = [r for shard in range(t.config.shard_count) for r in t.buffered_records(shard)]
    records += [r for b in t.waiting_batches() + t.in_flight_batches() for r in b.records]
    transfers = [r for r in records if r.kind is RecordKind.TRANSFER]
    return sum(r.up for r in transfers), sum(r.down for r in transfers)


def test_credited_splits_into_delivered_returned_and_pending() -> None:
    """R11: credited = delivered + dropped + returned + pending; pending is what is held;
    a retried batch is delivered once."""
    t = make("recommended", batch_size=2, shard_count=1, max_batch_age="off",
             retry_backoff_initial=1)
    for torrent in (1, 2, 3):
        t.announce(req(torrent=torrent), now=0)
    t.announce(req(torrent=1, up=100, down=10), now=1)
    t.announce(req(torrent=2, up=200, down=20), now=1)  # batch 1: 300/30
    t.announce(req(torrent=3, up=400, down=40), now=1)  # buffered: 400/40
    lg = t.ledger()
    assert (lg.credited_up, lg.credited_down, lg.pending_up, lg.pending_down) == (700, 70, 700, 70)
    b = t.next_batch(now=1)
    assert b is not None
    assert held_transfer_bytes(t) == (700, 70)
    t.batch_failed(b.batch_id, now=1)
    again = t.next_batch(now=2)
    assert again == b
    t.batch_succeeded(b.batch_id, now=2)
    lg = t.ledger()
    assert (lg.delivered_up, lg.delivered_down) == (300, 30)
    assert (lg.pending_up, lg.pending_down) == (400, 40)
    assert held_transfer_bytes(t) == (400, 40)
    for handed in t.stop(now=3):
        t.batch_failed(handed.batch_id, now=3)
    t.close(now=3)
    lg = t.ledger()
    assert (lg.delivered_up, lg.returned_up, lg.dropped_up, lg.pending_up) == (300, 400, 0, 0)
    assert lg.credited_up == lg.delivered_up + lg.returned_up + lg.dropped_up + lg.pending_up


def test_seed_negative_credit_is_in_the_ledger_too() -> None:
    """R11: the identity holds with the seed's negative deltas and dropped batches."""
    t = make("seed", shard_count=1)
    t.announce(req(up=100), now=0)
    t.announce(req(up=40), now=1)
    t.announce(req(up=70), now=2)
    lg = t.ledger()
    assert (lg.credited_up, lg.pending_up) == (-60 + 30, -30)
    for handed in t.stop(now=3):
        t.batch_failed(handed.batch_id, now=3)
    t.close(now=3)
    lg = t.ledger()
    assert (lg.dropped_up, lg.pending_up, lg.credited_up) == (-30, 0, -30)


def test_attributed_bytes_per_cause() -> None:
    """R11.1: baseline, reset and purge_gap sums; the driver causes stay zero in the core."""
    t = make("recommended", peer_lifetime=10)
    t.announce(req(torrent=1, up=5, down=1), now=0)
    t.announce(req(torrent=2, up=7, down=2), now=0)
    t.announce(req(torrent=1, up=3, down=3), now=1)           # reset
    t.announce(req(torrent=2, up=9, down=2, event=Event.STARTED), now=2)  # reset
    t.announce(req(torrent=1, up=50, down=6), now=20)         # expired
    att = t.ledger().attributed
    assert att[Cause.BASELINE] == (12, 3)
    assert att[Cause.RESET] == (12, 5)
    assert att[Cause.PURGE_GAP] == (50, 6)
    assert set(att) == {Cause.BASELINE, Cause.RESET, Cause.PURGE_GAP}


def test_metrics_count_what_happened() -> None:
    """R12: gauges and counters after a known sequence of calls."""
    t = make("recommended", batch_size=2, shard_count=1, peer_lifetime=10,
             max_batch_age="off", max_pending=3)
    t.announce(req(user=1), now=0)
    t.announce(req(user=2, event=Event.STARTED), now=0)        # event record
    t.announce(req(user=1, up=10), now=1)                      # transfer -> batch 1
    t.announce(req(user=1, up=5), now=1)                       # reset
    t.announce(req(user=3, event=Event.STOPPED), now=1)        # stopped_unknown
    t.announce(req(user=1, up=2**63), now=1)                   # counter_out_of_range
    m = t.metrics()
    assert (m.users, m.entries, m.buffered_records, m.waiting_batches) == (2, 2, 0, 1)
    assert (m.in_flight_batches, m.pending_records, m.announces) == (0, 2, 6)
    assert m.outcomes == {"baseline": 2, "credited": 1, "reset": 1, "stopped": 0,
                          "stopped_unknown": 1, "expired": 0, "rejected": 1}
    assert m.rejected["counter_out_of_range"] == 1 and sum(m.rejected.values()) == 1
    assert m.records == {"transfer": 1, "event": 1, "purge": 0}
    b = t.next_batch(now=2)
    assert b is not None
    t.batch_failed(b.batch_id, now=2)
    b = t.next_batch(now=5)
    assert b is not None
    t.batch_succeeded(b.batch_id, now=5)
    gc = t.collect_garbage(now=20)
    assert gc.removed_entries == 2
    m = t.metrics()
    assert (m.batches_sealed, m.batches_delivered, m.batches_failed) == (2, 1, 1)
    assert (m.records_delivered, m.purged_entries, m.gc_runs, m.gc_entries_scanned) == (
        2, 2, 1, 2)
    assert (m.users, m.entries, m.pending_records, m.seed_panics) == (0, 0, 2, 0)
    assert t.shard_of(uid(1)) == 0


def test_metrics_survive_a_snapshot() -> None:
    """R12: counters are part of the snapshot."""
    t = make("seed", batch_size=1, shard_count=1)
    t.announce(req(), now=0)
    r = t.announce(req(up=1), now=1)
    assert r.flush is not None
    t.batch_failed(r.flush.batch_id, now=1)
    assert restore(snapshot(t)).metrics() == t.metrics()
    assert t.metrics().rejected["handler_failed"] == 1
