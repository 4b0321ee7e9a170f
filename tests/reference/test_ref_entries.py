"""The storage of baselines (reference/_entries.py): packing, several peers of
one user on one torrent, interned infohashes and their compaction."""

from __future__ import annotations

import json

import pytest
from ref_helpers import deliver_all, ih, make, pid, req, state_doc, uid

from privtrak.reference import Event, InfoHash, Outcome, RecordKind, restore, snapshot
from privtrak.reference._entries import (
    FOLDED_BIT,
    PEER_KEYED,
    TORRENT_KEYED,
    InfoHashTable,
    UserEntries,
    fold,
    folded_peer,
    pack,
    unfold,
    unpack,
)

MAX64 = (1 << 64) - 1


@pytest.mark.parametrize(("up", "down", "seen", "completed"), [
    (0, 0, 0, False), (MAX64, MAX64, 1_800_000_000, True), (1, MAX64, 1 << 70, False)])
@pytest.mark.parametrize("peer", [bytes(20), b"\xff" * 20, pid(3)])
def test_pack_and_fold_round_trip_every_field(up: int, down: int, seen: int, completed: bool,
                                              peer: bytes) -> None:
    plain = pack(up, down, seen, completed)
    assert unpack(plain) == (up, down, seen, completed) and not plain & FOLDED_BIT
    folded = fold(plain, peer)
    assert folded & FOLDED_BIT and folded_peer(folded) == peer
    assert unfold(folded) == plain


def test_home_peer_is_plain_other_peers_fold_and_several_share_a_dict() -> None:
    user = UserEntries(shard=0, oldest=0, peer=pid(1))
    home = pack(1, 2, 3, False)
    other = pack(4, 5, 6, True)
    assert PEER_KEYED.put(user, ih(1), pid(1), home) is True
    assert user.entries[ih(1)] == home  # the home peer's baseline is stored plain
    assert PEER_KEYED.put(user, ih(2), pid(2), other) is True
    assert user.entries[ih(2)] == fold(other, pid(2))
    assert PEER_KEYED.get(user, ih(2), pid(2)) == other
    assert PEER_KEYED.get(user, ih(2), pid(1)) is None
    assert PEER_KEYED.get(user, ih(1), pid(2)) is None
    assert PEER_KEYED.get(user, ih(1), pid(1)[:5]) is None  # not a peer id: never a match
    assert PEER_KEYED.put(user, ih(2), pid(2), other + 1) is False
    assert PEER_KEYED.put(user, ih(2), pid(1), home) is True
    assert user.entries[ih(2)] == {pid(2): other + 1, pid(1): home}
    assert PEER_KEYED.count(user) == 3
    assert list(PEER_KEYED.items(user)) == [
        (ih(1), pid(1), home), (ih(2), pid(2), other + 1), (ih(2), pid(1), home)]
    PEER_KEYED.remove(user, ih(2), pid(1))
    assert user.entries[ih(2)] == fold(other + 1, pid(2))  # one peer left: a single int again
    PEER_KEYED.remove(user, ih(2), pid(2))
    assert ih(2) not in user.entries and PEER_KEYED.count(user) == 1


def test_without_peer_keying_every_slot_is_plain() -> None:
    user = UserEntries(shard=0, oldest=0)
    assert TORRENT_KEYED.put(user, ih(1), None, pack(1, 1, 1, False)) is True
    assert TORRENT_KEYED.put(user, ih(1), None, pack(2, 2, 2, False)) is False
    assert list(TORRENT_KEYED.items(user)) == [(ih(1), None, pack(2, 2, 2, False))]
    assert TORRENT_KEYED.get(user, ih(1), pid(9)) == pack(2, 2, 2, False)


def test_several_peers_of_one_user_on_one_torrent_are_accounted_apart() -> None:
    t = make("recommended")
    for peer in (1, 2, 3):
        assert t.announce(req(peer=peer, up=100 * peer), now=0).outcome is Outcome.BASELINE
    assert t.announce(req(peer=2, up=250), now=1).credited_up == 50
    stop = t.announce(req(peer=1, up=130, event=Event.STOPPED), now=2)
    assert (stop.outcome, stop.credited_up) == (Outcome.STOPPED, 30)
    assert t.announce(req(peer=3, up=330, event=Event.STOPPED), now=3).credited_up == 30
    assert [(e.peer_id, e.uploaded, e.last_seen) for e in t.entries()] == [(pid(2), 250, 1)]
    assert t.metrics().entries == 1
    # The peer that left starts over from a baseline.
    assert t.announce(req(peer=1, up=500), now=4).outcome is Outcome.BASELINE
    assert t.metrics().entries == 2


def test_gc_purges_each_stale_peer_with_its_own_record() -> None:
    t = make("recommended", peer_lifetime=100)
    t.announce(req(peer=2, up=1), now=0)
    t.announce(req(peer=1, up=1), now=0)
    t.announce(req(torrent=2, peer=1, up=1), now=0)
    t.announce(req(peer=3, up=1), now=150)
    gc = t.collect_garbage(now=160)
    assert (gc.removed_entries, gc.removed_users) == (3, 0)
    [kept] = t.entries()
    assert (kept.info_hash, kept.peer_id) == (ih(1), pid(3))
    records = [r for b in t.stop(160) for r in b.records if r.kind is RecordKind.PURGE]
    # Purges come in (infohash, peer id) order, whatever the storage order.
    assert [(r.info_hash, r.peer_id) for r in records] == [
        (ih(1), pid(1)), (ih(1), pid(2)), (ih(2), pid(1))]


def test_snapshot_of_several_peers_round_trips() -> None:
    t = make("recommended")
    t.announce(req(peer=1, up=10), now=0)
    t.announce(req(torrent=2, peer=1, up=20), now=0)
    t.announce(req(peer=2, up=30, event=Event.COMPLETED), now=1)
    deliver_all(t, 1)
    doc = json.loads(json.dumps(snapshot(t)))
    keys = [e["key"] for e in doc["users"][0]["entries"]]
    assert keys == [(ih(1) + pid(1)).hex(), (ih(1) + pid(2)).hex(), (ih(2) + pid(1)).hex()]
    back = restore(doc)
    assert back.entries() == t.entries() and state_doc(back) == state_doc(t)
    assert back.announce(req(peer=2, up=35), now=2).credited_up == 5


@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_entries_share_one_infohash_object_per_torrent(preset: str) -> None:
    t = make(preset)
    for user in (1, 2, 3):
        request = req(user=user, up=1)
        object.__setattr__(request, "info_hash", InfoHash(bytes(memoryview(ih(1)))))
        t.announce(request, now=0)
    keys = [next(iter(t._users[uid(user)].entries)) for user in (1, 2, 3)]
    assert keys[0] == ih(1) and keys[0] is keys[1] is keys[2]
    assert len(t._info_hashes) == 1


def test_infohash_table_keeps_only_live_torrents_after_gc(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(InfoHashTable, "SLACK", 4)
    t = make("recommended", peer_lifetime=100)
    for torrent in range(1, 21):
        t.announce(req(torrent=torrent, up=1), now=0)
    t.announce(req(torrent=21, up=1), now=150)
    assert len(t._info_hashes) == 21
    t.collect_garbage(now=160)
    assert len(t._info_hashes) == 1
    # The surviving entry still resolves to the same canonical object.
    [kept] = t._users[uid(1)].entries
    assert t._info_hashes.intern(InfoHash(bytes(ih(21)))) is kept
    # Below the bound (twice the live torrents plus SLACK) GC leaves the table alone.
    t.announce(req(torrent=22, up=1), now=160)
    t.announce(req(torrent=22, up=1, event=Event.STOPPED), now=160)
    t.collect_garbage(now=170)
    assert len(t._info_hashes) == 2


def test_a_second_client_of_a_user_survives_snapshots_whatever_its_home_peer() -> None:
    t = make("recommended")
    t.announce(req(torrent=9, peer=1, up=1), now=0)  # the first announce: home peer 1
    t.announce(req(torrent=3, peer=2, up=30), now=0)
    t.announce(req(torrent=9, peer=1, up=1, event=Event.STOPPED), now=0)
    t.announce(req(torrent=1, peer=1, up=10), now=0)
    t.announce(req(torrent=2, peer=1, up=20), now=0)
    t.announce(req(torrent=2, peer=2, up=5), now=0)
    stored = t._users[uid(1)]
    assert stored.peer == pid(1) and stored.entries[ih(3)] & FOLDED_BIT
    assert stored.entries[ih(1)] == pack(10, 0, 0, False)
    deliver_all(t, 0)
    # The restored tracker takes the first listed peer as its home peer: the
    # storage differs, the accounting does not.
    back = restore(json.loads(json.dumps(snapshot(t))))
    assert back._users[uid(1)].peer == pid(2) and back.entries() == t.entries()
    assert back._users[uid(1)].entries[ih(1)] & FOLDED_BIT
    for tracker in (t, back):
        assert tracker.announce(req(torrent=1, peer=1, up=15), now=1).credited_up == 5
        assert tracker.announce(req(torrent=2, peer=2, up=9), now=1).credited_up == 4
        assert tracker.announce(req(torrent=3, peer=1, up=1), now=1).outcome is Outcome.BASELINE
        stop = tracker.announce(req(torrent=3, peer=2, up=31, event=Event.STOPPED), now=2)
        assert stop.credited_up == 1
    assert back.entries() == t.entries() and state_doc(back) == state_doc(t)


def test_flat_lists_the_seed_keys_and_replace_writes_them_back() -> None:
    """The flat view keys by infohash + peer id (infohash alone without peer keying);
    replace rebuilds the layout from such pairs, a repeated key keeping its last value,
    infohashes interned and the home peer unchanged."""
    user = UserEntries(0, 0, pid(1))
    PEER_KEYED.put(user, ih(1), pid(1), pack(1, 0, 0, False))
    PEER_KEYED.put(user, ih(2), pid(2), pack(2, 0, 0, False))
    PEER_KEYED.put(user, ih(2), pid(1), pack(3, 0, 0, True))
    flat = PEER_KEYED.flat(user)
    assert flat == {ih(1) + pid(1): pack(1, 0, 0, False), ih(2) + pid(2): pack(2, 0, 0, False),
                    ih(2) + pid(1): pack(3, 0, 0, True)}
    table = InfoHashTable()
    canonical = table.intern(InfoHash(bytes(ih(3))))
    PEER_KEYED.replace(user, [(ih(3) + pid(2), 7), (ih(1) + pid(1), 8), (ih(3) + pid(2), 9)],
                       table.intern)
    assert list(PEER_KEYED.items(user)) == [(ih(3), pid(2), 9), (ih(1), pid(1), 8)]
    assert next(iter(user.entries)) is canonical and user.peer == pid(1)
    assert user.entries[ih(3)] & FOLDED_BIT  # not the home peer: folded
    plain = UserEntries(0, 0)
    TORRENT_KEYED.put(plain, ih(1), None, 5)
    assert TORRENT_KEYED.flat(plain) == {ih(1): 5}
