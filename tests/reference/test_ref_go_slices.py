"""R7.3 abort: the Go slice replay against traces worked out by hand from Go's
``append``/``range`` semantics (the element order is the key order)."""

from __future__ import annotations

import pytest

from privtrak.reference._go_slices import (
    Change,
    after_announce_panic,
    after_gc_panic,
    capacity_for,
    grown_capacity,
)


def slots(*names: str) -> list[tuple[bytes, int]]:
    return [(n.encode(), i) for i, n in enumerate(names)]


def keys(view: list[tuple[bytes, int]]) -> list[str]:
    return [k.decode() for k, _ in view]


def test_gc_panic_keeps_the_length_over_the_shifted_array() -> None:
    assert keys(after_gc_panic(slots("a", "b"), stale={b"a"})) == ["b", "b"]
    # a removed at i=0 ([b, c, c], len 2); i=1 reads c, stale, removed (len 1); i=2 panics.
    assert keys(after_gc_panic(slots("a", "b", "c"), {b"a", b"c"})) == ["b", "c", "c"]


def test_gc_loop_that_does_not_panic_is_a_bug_report() -> None:
    with pytest.raises(ValueError, match="did not panic"):
        after_gc_panic(slots("a", "b"), {b"b"})


def test_announce_panic_per_kind_of_update() -> None:
    before = slots("a", "b")
    updated = after_announce_panic(before, 2, Change.UPDATE, b"b", 99, stale={b"a"})
    assert updated == [(b"b", 99), (b"b", 99)]
    removed = after_announce_panic(slots("a", "b", "c"), 4, Change.REMOVE, b"b", 0, stale={b"a"})
    # stopped removes b in place ([a, c, c]); the loop removes a ([c, c, c]) and panics.
    assert keys(removed) == ["c", "c", "c"]
    # An insert with room to spare shares the array: the map shows the first two slots.
    inserted = after_announce_panic(before, 4, Change.INSERT, b"c", 7, stale={b"a"})
    assert keys(inserted) == ["b", "c"]
    # A full slice reallocates: the map's array is untouched.
    assert after_announce_panic(before, 2, Change.INSERT, b"c", 7, stale={b"a"}) == before


def test_capacity_growth_doubles_below_256() -> None:
    caps = [1]
    while caps[-1] < 512:
        caps.append(grown_capacity(caps[-1]))
    assert caps[:10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def test_capacity_for_follows_appends_from_an_empty_slice() -> None:
    cap, length = 1, 0
    while length < 2000:
        assert capacity_for(length) == cap, length
        length += 1
        if length > cap:
            cap = grown_capacity(cap)
    assert (capacity_for(0), capacity_for(3), capacity_for(257)) == (1, 4, 512)
