"""The peer store (counts kept incrementally agree with a recount; expiry) and
the wire helpers (compact peers, percent-decoding)."""

from __future__ import annotations

from urllib.parse import quote_from_bytes, unquote_to_bytes

from hypothesis import given
from hypothesis import strategies as st

from privtrak.server import PeerStore
from privtrak.server._wire import _unquote, compact_peer

ops = st.lists(st.tuples(st.sampled_from(["update", "remove", "expire"]),
                         st.integers(0, 2), st.integers(0, 4), st.booleans(),
                         st.integers(0, 3)), max_size=60)


@given(ops)
def test_counts_match_a_recount(steps: list[tuple[str, int, int, bool, int]]) -> None:
    store = PeerStore(peer_lifetime=2)
    model: dict[tuple[int, int], tuple[bool, int]] = {}
    now = 0
    for op, torrent, peer, seeder, dt in steps:
        now += dt
        key = (torrent, peer)
        h, p = bytes([torrent]) * 20, bytes([peer]) * 20
        if op == "update":
            store.update(h, p, b"c" * 6, ipv6=False, seeder=seeder, now=now)
            model[key] = (seeder, now)
        elif op == "remove":
            store.remove(h, p)
            model.pop(key, None)
        else:
            gone = store.expire(now)
            stale = [k for k, (_, seen) in model.items() if seen < now - 2]
            assert gone == len(stale)
            for k in stale:
                del model[k]
        for t in range(3):
            seeders = sum(1 for (tt, _), (s, _) in model.items() if tt == t and s)
            peers = sum(1 for (tt, _) in model if tt == t)
            assert store.counts(bytes([t]) * 20)[:2] == (seeders, peers - seeders)
        torrents = len({t for t, _ in model})
        seeders = sum(1 for s, _ in model.values() if s)
        assert store.totals() == (torrents, seeders, len(model) - seeders)


def test_peer_lists_exclude_the_asker_and_seeders_for_seeders() -> None:
    store = PeerStore(60)
    h = b"h" * 20
    store.update(h, b"a" * 20, b"A" * 6, ipv6=False, seeder=True, now=0)
    store.update(h, b"b" * 20, b"B" * 18, ipv6=True, seeder=False, now=0)
    store.update(h, b"c" * 20, b"C" * 6, ipv6=False, seeder=False, now=0)
    assert store.peers_for(h, b"c" * 20, 10, seeder=False) == ([b"A" * 6], [b"B" * 18])
    assert store.peers_for(h, b"a" * 20, 10, seeder=True) == ([b"C" * 6], [b"B" * 18])
    assert store.peers_for(h, b"c" * 20, 1, seeder=False) == ([b"A" * 6], [])


def test_compact_forms() -> None:
    assert compact_peer("10.1.2.3", 6881) == (False, bytes([10, 1, 2, 3, 0x1A, 0xE1]))
    assert compact_peer("::ffff:10.1.2.3", 1) == (False, bytes([10, 1, 2, 3, 0, 1]))
    ipv6, packed = compact_peer("2001:db8::1", 443)
    assert ipv6 and packed == bytes.fromhex("20010db8000000000000000000000001") + b"\x01\xbb"


@given(st.one_of(st.binary(max_size=30).map(quote_from_bytes),
                 st.binary(max_size=30).map(lambda b: quote_from_bytes(b).lower()),
                 st.text(alphabet="%aAfF09gG+=_.~ -!*'\t\né", max_size=20)))
def test_fast_percent_decoding_equals_the_standard_one(text: str) -> None:
    assert _unquote(text) == unquote_to_bytes(text.replace("+", " "))
