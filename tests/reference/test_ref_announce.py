"""Accounting one announce: time, keys, baselines, credit, resets, events, limits."""

from __future__ import annotations

import pytest
from ref_helpers import counts, ih, make, pid, req, state_doc, uid

from privtrak.reference import (
    AnnounceRequest,
    Cause,
    DeltaRecord,
    Event,
    Outcome,
    RecordKind,
    RejectCode,
    Tracker,
    UsageError,
    default_config,
)

PRESETS = ("seed", "recommended")


def buffered(t: Tracker, user: int = 1) -> tuple[DeltaRecord, ...]:
    return t.buffered_records(t.shard_of(uid(user)))


# -- R0 ------------------------------------------------------------------------


def test_time_must_not_go_backwards() -> None:
    """R0: a decreasing now raises UsageError and changes nothing."""
    t = make()
    t.announce(req(up=1), now=10)
    before, before_counts = state_doc(t), counts(t)
    with pytest.raises(UsageError, match="backwards: 9 < 10"):
        t.announce(req(up=50), now=9)
    with pytest.raises(UsageError):
        t.collect_garbage(now=3)
    with pytest.raises(UsageError):
        t.next_batch(now=0)
    assert state_doc(t) == before and counts(t) == before_counts
    assert t.now == 10


@pytest.mark.parametrize("bad", [10.0, True, "10", None])
def test_time_must_be_an_int(bad: object) -> None:
    """R0: whole seconds as int only, even when equal to the current time."""
    t = make(now=1)
    t.announce(req(), now=1)
    before = state_doc(t)
    with pytest.raises(UsageError, match="whole seconds"):
        t.announce(req(up=5), now=bad)  # type: ignore[arg-type]
    assert state_doc(t) == before
    with pytest.raises(UsageError):
        Tracker(default_config(), now=-1)


def test_rejected_announce_still_advances_the_clock() -> None:
    """R0: the clock moves to now on every accepted call, also when the announce is refused."""
    t = make(now=0)
    t.announce(AnnounceRequest("/bad/announce", ih(1), pid(1), 0, 0, 0), now=42)
    assert t.now == 42
    with pytest.raises(UsageError):
        t.announce(req(), now=41)


def test_failed_calls_do_not_move_the_clock() -> None:
    """R0: a call that raises UsageError leaves the clock where it was."""
    t = make(now=5)
    before = state_doc(t)
    with pytest.raises(UsageError):
        t.batch_succeeded(99, now=50)
    with pytest.raises(UsageError):
        t.close(now=60)
    assert state_doc(t) == before and t.now == 5


# -- R2.1, R2.2 ------------------------------------------------------------------


def test_recommended_keys_baselines_by_peer() -> None:
    """R2.1: two clients of one user on one torrent keep separate baselines."""
    t = make("recommended")
    t.announce(req(peer=1, up=1000), now=0)
    t.announce(req(peer=2, up=10), now=0)
    a = t.announce(req(peer=1, up=1100), now=1)
    b = t.announce(req(peer=2, up=40), now=1)
    assert (a.outcome, a.credited_up) == (Outcome.CREDITED, 100)
    assert (b.outcome, b.credited_up) == (Outcome.CREDITED, 30)
    assert [(e.peer_id, e.uploaded) for e in t.entries()] == [(pid(1), 1100), (pid(2), 40)]


def test_seed_keys_baselines_by_torrent_only() -> None:
    """R2.1: under user_torrent one entry per (user, torrent), whatever the peer id."""
    t = make("seed")
    t.announce(req(peer=1, up=1000), now=0)
    b = t.announce(req(peer=2, up=1010), now=1)
    assert (b.outcome, b.credited_up) == (Outcome.CREDITED, 10)
    assert b.record is not None and b.record.peer_id == pid(2)
    [entry] = t.entries()
    assert (entry.peer_id, entry.uploaded) == (None, 1010)


def test_entry_views() -> None:
    """R2.2: an entry holds counters, last_seen and completed; entry() lookup rules."""
    t = make("recommended")
    t.announce(req(user=2, torrent=1, up=7, down=3, event=Event.COMPLETED), now=4)
    t.announce(req(user=1, torrent=2, up=1), now=5)
    t.announce(req(user=1, torrent=1, up=2), now=6)
    views = t.entries()
    assert [(v.user, v.info_hash) for v in views] == [
        (uid(1), ih(1)), (uid(1), ih(2)), (uid(2), ih(1))]
    e = t.entry(uid(2), ih(1), pid(1))
    assert e is not None
    assert (e.uploaded, e.downloaded, e.last_seen, e.completed, e.peer_id) == (
        7, 3, 4, True, pid(1))
    assert t.entry(uid(2), ih(1), pid(2)) is None
    assert t.entry(uid(3), ih(1), pid(1)) is None
    with pytest.raises(UsageError, match="peer_id is required"):
        t.entry(uid(2), ih(1))
    s = make("seed")
    s.announce(req(up=9), now=0)
    seen = s.entry(uid(1), ih(1))
    assert seen is not None and seen.peer_id is None and seen.uploaded == 9
    assert s.entry(uid(1), ih(1), pid(5)) == seen
    assert t.metrics().users == 2 and t.metrics().entries == 3


# -- R3 ---------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_first_announce_sets_the_baseline(preset: str) -> None:
    """R3: no entry -> counters become the baseline, nothing credited, all attributed."""
    t = make(preset)
    r = t.announce(req(up=5000, down=700), now=3)
    assert r.outcome is Outcome.BASELINE
    assert (r.credited_up, r.credited_down) == (0, 0)
    assert (r.cause, r.attributed_up, r.attributed_down) == (Cause.BASELINE, 5000, 700)
    assert r.record is None and r.user == uid(1)
    e = t.entry(uid(1), ih(1), pid(1))
    assert e is not None and (e.uploaded, e.downloaded, e.last_seen) == (5000, 700, 3)
    assert buffered(t) == ()


def test_decision_order_closing_identity_limit_backpressure() -> None:
    """R3.1: closing beats a bad credential, which beats counter_out_of_range,
    which beats pending_full; back-pressure only refuses announces that add records."""
    t = make("recommended", max_pending=1, max_batch_age="off")
    t.announce(req(up=0), now=0)
    t.announce(req(up=10), now=1)  # one pending record: full
    bad_and_big = AnnounceRequest("/x/announce", ih(1), pid(1), 2**63, 0, 0)
    assert t.announce(bad_and_big, now=1).reject is RejectCode.BAD_CREDENTIAL
    big = t.announce(req(up=2**63), now=1)
    assert big.reject is RejectCode.COUNTER_OUT_OF_RANGE
    assert t.announce(req(up=20), now=1).reject is RejectCode.PENDING_FULL
    # no record: accepted while full
    assert t.announce(req(up=10), now=2).outcome is Outcome.CREDITED
    assert t.announce(req(torrent=2, up=99), now=2).outcome is Outcome.BASELINE
    assert t.announce(req(torrent=9, event=Event.STOPPED), now=2).outcome is (
        Outcome.STOPPED_UNKNOWN)
    t.stop(now=3)
    assert t.announce(bad_and_big, now=3).reject is RejectCode.CLOSING


def test_decision_order_expired_before_reset() -> None:
    """R3.1: a stale entry counts as absent before counters are compared (expired, not reset)."""
    t = make("recommended", peer_lifetime=100)
    t.announce(req(up=500), now=0)
    r = t.announce(req(up=10, event=Event.STARTED), now=101)
    assert r.outcome is Outcome.EXPIRED


@pytest.mark.parametrize("preset", PRESETS)
def test_known_entry_is_credited_the_difference(preset: str) -> None:
    """R3.2: credited = reported - baseline per direction; the baseline moves on."""
    t = make(preset)
    t.announce(req(up=1000, down=2000), now=0)
    r = t.announce(req(up=1500, down=2000), now=7)
    assert r.outcome is Outcome.CREDITED
    assert (r.credited_up, r.credited_down, r.cause) == (500, 0, None)
    e = t.entry(uid(1), ih(1), pid(1))
    assert e is not None and (e.uploaded, e.downloaded, e.last_seen) == (1500, 2000, 7)
    r2 = t.announce(req(up=1500, down=2600), now=9)
    assert (r2.credited_up, r2.credited_down) == (0, 600)


@pytest.mark.parametrize("preset", PRESETS)
def test_zero_credit_is_accepted_without_record(preset: str) -> None:
    """R3.2: same counters -> outcome credited, no record, last_seen refreshed."""
    t = make(preset)
    t.announce(req(up=10, down=10), now=0)
    r = t.announce(req(up=10, down=10), now=60)
    assert (r.outcome, r.record, r.credited_up, r.credited_down) == (
        Outcome.CREDITED, None, 0, 0)
    e = t.entry(uid(1), ih(1), pid(1))
    assert e is not None and e.last_seen == 60
    assert buffered(t) == ()


@pytest.mark.parametrize("preset", PRESETS)
def test_transfer_record_contents(preset: str) -> None:
    """R3.3: kind, user, info_hash, peer_id, up, down, event, left and time; append order."""
    t = make(preset)
    t.announce(req(up=100, down=50, left=900), now=0)
    t.announce(req(torrent=2, up=0), now=0)
    t.announce(req(up=130, down=60, left=800), now=11)
    t.announce(req(torrent=2, up=5, left=3, event=Event.COMPLETED), now=12)
    assert buffered(t) == (
        DeltaRecord(RecordKind.TRANSFER, uid(1), ih(1), pid(1), 30, 10, Event.NONE, 800, 11),
        DeltaRecord(RecordKind.TRANSFER, uid(1), ih(2), pid(1), 5, 0, Event.COMPLETED, 3, 12),
    )


def test_per_announce_identity_over_every_outcome() -> None:
    """R3.4: reported = prior baseline (0 on a new epoch) + credited + attributed."""
    t = make("recommended", peer_lifetime=100)
    steps = [  # (announce, now, outcome, prior_up)
        (req(up=40, down=4), 0, Outcome.BASELINE, 0),
        (req(up=90, down=9), 10, Outcome.CREDITED, 40),
        (req(up=60, down=20), 20, Outcome.RESET, 0),
        (req(up=70, down=30, event=Event.STARTED), 30, Outcome.RESET, 0),
        (req(up=100, down=30), 200, Outcome.EXPIRED, 0),
        (req(up=150, down=31, event=Event.STOPPED), 210, Outcome.STOPPED, 100),
        (req(up=999, down=9, event=Event.STOPPED), 220, Outcome.STOPPED_UNKNOWN, None),
    ]
    for request, now, outcome, prior in steps:
        r = t.announce(request, now)
        assert r.outcome is outcome
        if prior is None:
            assert (r.credited_up, r.attributed_up, r.cause) == (0, 0, None)
        else:
            assert request.uploaded == prior + r.credited_up + r.attributed_up
    att = t.ledger().attributed
    assert att[Cause.BASELINE] == (40, 4)
    assert att[Cause.RESET] == (60 + 70, 20 + 30)
    assert att[Cause.PURGE_GAP] == (100, 30)
    assert (t.ledger().credited_up, t.ledger().credited_down) == (50 + 50, 5 + 1)


# -- R4 ---------------------------------------------------------------------------


def test_recommended_resets_on_any_decrease() -> None:
    """R4.1: one counter down -> reset both, credit nothing (even the counter that rose)."""
    t = make("recommended")
    t.announce(req(up=100, down=100), now=0)
    r = t.announce(req(up=50, down=200), now=1)
    assert (r.outcome, r.credited_up, r.credited_down, r.record) == (
        Outcome.RESET, 0, 0, None)
    assert (r.cause, r.attributed_up, r.attributed_down) == (Cause.RESET, 50, 200)
    e = t.entry(uid(1), ih(1), pid(1))
    assert e is not None and (e.uploaded, e.downloaded, e.last_seen) == (50, 200, 1)
    nxt = t.announce(req(up=80, down=200), now=2)
    assert (nxt.outcome, nxt.credited_up) == (Outcome.CREDITED, 30)
    assert t.metrics().outcomes["reset"] == 1


def test_seed_credits_negative_deltas() -> None:
    """R4.1: counter_decrease=negative_delta credits the signed difference."""
    t = make("seed")
    t.announce(req(up=100, down=100), now=0)
    r = t.announce(req(up=50, down=200), now=1)
    assert (r.outcome, r.credited_up, r.credited_down) == (Outcome.CREDITED, -50, 100)
    assert r.record is not None and (r.record.up, r.record.down) == (-50, 100)


@pytest.mark.parametrize(("preset", "outcome", "credited"), [
    ("recommended", Outcome.RESET, 0), ("seed", Outcome.CREDITED, 25)])
def test_started_on_a_known_entry(preset: str, outcome: Outcome, credited: int) -> None:
    """R4.2: started on a known entry resets (recommended) or continues (seed)."""
    t = make(preset)
    t.announce(req(up=100), now=0)
    r = t.announce(req(up=125, event=Event.STARTED), now=1)
    assert (r.outcome, r.credited_up) == (outcome, credited)
    e = t.entry(uid(1), ih(1), pid(1))
    assert e is not None and e.uploaded == 125


# -- R5 ---------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_stopped_credits_then_removes(preset: str) -> None:
    """R5.1: stopped on a known entry is credited, then the entry (and user) go."""
    t = make(preset)
    t.announce(req(up=10, down=1), now=0)
    r = t.announce(req(up=35, down=2, event=Event.STOPPED), now=5)
    assert (r.outcome, r.credited_up, r.credited_down) == (Outcome.STOPPED, 25, 1)
    assert r.record is not None and r.record.event is Event.STOPPED
    assert t.entries() == [] and t.metrics().users == 0


def test_stopped_with_a_reset_still_removes() -> None:
    """R5.1: a stopped announce that resets (R4.1) also removes the entry."""
    t = make("recommended")
    t.announce(req(up=10), now=0)
    r = t.announce(req(up=5, event=Event.STOPPED), now=5)
    assert r.outcome is Outcome.RESET
    assert r.record is not None and r.record.kind is RecordKind.EVENT
    assert t.entries() == []


def test_recommended_emits_event_records() -> None:
    """R5.2: zero-byte events become event records; completed counts once per entry."""
    t = make("recommended")
    r1 = t.announce(req(up=0, left=100, event=Event.STARTED), now=0)
    assert r1.record == DeltaRecord(RecordKind.EVENT, uid(1), ih(1), pid(1), 0, 0,
                                    Event.STARTED, 100, 0)
    r2 = t.announce(req(up=0, left=0, event=Event.COMPLETED), now=1)
    assert r2.record is not None and r2.record.event is Event.COMPLETED
    r3 = t.announce(req(up=0, event=Event.COMPLETED), now=2)
    assert r3.record is None
    r4 = t.announce(req(up=7, event=Event.COMPLETED), now=3)
    assert r4.record is not None
    assert (r4.record.kind, r4.record.event, r4.record.up) == (RecordKind.TRANSFER, Event.NONE, 7)
    r5 = t.announce(req(up=7, event=Event.STOPPED), now=4)
    assert r5.record is not None and (r5.record.kind, r5.record.event) == (
        RecordKind.EVENT, Event.STOPPED)
    # a new entry counts its snatch again, and a completed first announce is one
    r6 = t.announce(req(up=0, event=Event.COMPLETED), now=5)
    assert r6.outcome is Outcome.BASELINE
    assert r6.record is not None and r6.record.event is Event.COMPLETED
    assert t.metrics().records == {"transfer": 1, "event": 4, "purge": 0}


def test_seed_emits_no_event_records() -> None:
    """R5.2: event_records=false: zero-byte events vanish, completed repeats with bytes."""
    t = make("seed")
    assert t.announce(req(event=Event.STARTED), now=0).record is None
    assert t.announce(req(event=Event.COMPLETED), now=1).record is None
    r = t.announce(req(up=3, event=Event.COMPLETED), now=2)
    r2 = t.announce(req(up=4, event=Event.COMPLETED), now=3)
    assert r.record is not None and r2.record is not None
    assert (r.record.event, r2.record.event) == (Event.COMPLETED, Event.COMPLETED)
    assert t.announce(req(up=4, event=Event.STOPPED), now=4).record is None
    assert t.metrics().records["event"] == 0


def test_no_zero_byte_record_without_event() -> None:
    """R5.2: every non-purge record carries bytes or an event."""
    t = make("recommended")
    for now, (up, event) in enumerate([(0, Event.NONE), (0, Event.STARTED), (0, Event.NONE),
                                       (5, Event.NONE), (5, Event.COMPLETED),
                                       (5, Event.COMPLETED), (5, Event.NONE)]):
        t.announce(req(up=up, event=event), now=now)
    recs = buffered(t)
    assert [(r.kind, r.up, r.event) for r in recs] == [
        (RecordKind.EVENT, 0, Event.STARTED), (RecordKind.TRANSFER, 5, Event.NONE),
        (RecordKind.EVENT, 0, Event.COMPLETED)]


def test_recommended_ignores_stopped_for_unknown() -> None:
    """R5.3: stopped without an entry changes nothing and attributes nothing."""
    t = make("recommended")
    t.announce(req(torrent=2), now=0)
    before = state_doc(t)
    r = t.announce(req(up=300, event=Event.STOPPED), now=0)
    assert (r.outcome, r.record, r.cause, r.attributed_up) == (
        Outcome.STOPPED_UNKNOWN, None, None, 0)
    assert state_doc(t) == before
    t2 = make("recommended")
    t2.announce(req(up=300, event=Event.STOPPED), now=0)
    assert t2.entries() == [] and t2.metrics().users == 0


def test_seed_inserts_a_ghost_baseline_for_unknown_stopped() -> None:
    """R5.3: stopped_unknown=insert_baseline stores the counters as a baseline."""
    t = make("seed")
    r = t.announce(req(up=300, event=Event.STOPPED), now=0)
    assert (r.outcome, r.attributed_up) == (Outcome.BASELINE, 300)
    e = t.entry(uid(1), ih(1))
    assert e is not None and e.uploaded == 300


# -- R9.1, R9.2 ---------------------------------------------------------------------


def test_seed_wraps_credits_to_int64() -> None:
    """R9.1: under wrap, 2**63 from 0 credits -2**63; 2**64-1 from 0 credits -1; 0 from
    2**64-1 credits +1."""
    t = make("seed")
    t.announce(req(torrent=1), now=0)
    t.announce(req(torrent=2), now=0)
    t.announce(req(torrent=3, up=2**64 - 1), now=0)
    assert t.announce(req(torrent=1, up=2**63), now=1).credited_up == -9223372036854775808
    assert t.announce(req(torrent=2, up=2**64 - 1), now=1).credited_up == -1
    assert t.announce(req(torrent=3, up=0), now=1).credited_up == 1


def test_recommended_rejects_counters_above_int64() -> None:
    """R9.2: uploaded or downloaded above 2**63-1 -> counter_out_of_range, no change;
    2**63-1 itself and a huge left are accepted."""
    t = make("recommended")
    t.announce(req(), now=0)
    before = state_doc(t)
    for request in (req(up=2**63), req(down=2**64 - 1)):
        r = t.announce(request, now=1)
        assert (r.outcome, r.reject) == (Outcome.REJECTED, RejectCode.COUNTER_OUT_OF_RANGE)
        assert "2**63-1" in r.message
    assert state_doc(t) == {**before, "now": 1}
    ok = t.announce(req(up=2**63 - 1, left=2**64 - 1), now=2)
    assert ok.credited_up == 9223372036854775807
    assert t.metrics().rejected["counter_out_of_range"] == 2
