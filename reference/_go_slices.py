"""What the seed's expiry loop leaves behind when it panics (SPEC.md R7.3).

The Go middleware keeps each user's entries in a slice sorted by key and
purges with ``for i := range s { if stale(s[i]) { s = append(s[:i],
s[i+1:]...) } }``. ``range`` fixes the length up front while ``append``
shifts the elements left *in the same backing array*, so once an entry
that is not the last one was removed the loop reads past the shortened
slice and panics. What survives depends on which slice header was written
back to the shard's user map before the panic (none was) and whether the
announce's own update reallocated the array. This module replays that
with Python lists standing in for Go arrays; it is used only under
``expiry_panic = abort`` and only when a panic happens, so it is off the
hot path.

Capacities follow Go's ``append`` growth for this element type (48 bytes:
a 20-byte infohash padded to 24, then three 8-byte fields): the capacity
doubles while it is below 256 and every doubled size is an exact allocator
size class, so the model is exact for users with at most 256 entries.
Above that Go's growth formula and size-class rounding take over; the
model then uses the formula without the rounding.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from enum import Enum

Slot = tuple[bytes, int]
"""One slice element: the entry's key and its packed value (see ``_entries``)."""


class Change(Enum):
    """What the announce's ``update`` did to the local copy of the slice."""

    UPDATE = "update"
    """An existing entry got new counters in place."""
    REMOVE = "remove"
    """``stopped`` removed an existing entry: the tail shifts left in place."""
    INSERT = "insert"
    """A new entry: ``append`` grows the slice, reallocating when it is full."""


def grown_capacity(cap: int) -> int:
    """The capacity ``append`` gives a full slice of capacity ``cap`` growing by one."""
    if cap < 256:
        return max(1, 2 * cap)
    return cap + (cap + 3 * 256) // 4


def capacity_for(length: int) -> int:
    """The capacity of a slice that reached ``length`` elements by appending
    one at a time to an empty one (1 for an empty slice): what a user's list
    that never shrank has."""
    cap = 1
    while cap < length:
        cap = grown_capacity(cap)
    return cap


def _expire(array: list[Slot], length: int, stale: set[bytes]) -> int:
    """Run the seed's loop on ``array[:length]`` in place until it panics.

    Returns the slice length reached at the panic. Raises ``ValueError`` if
    it does not panic: callers only come here when the reference predicted
    a panic, so that would be a bug in one of the two.
    """
    for i in range(length):  # range evaluates the length once, as Go's does
        if i >= length:
            return length  # Go: index out of range [i] with length `length`
        if array[i][0] in stale:
            array[i:length - 1] = array[i + 1:length]
            length -= 1
    raise ValueError("the seed's expiry loop did not panic where R7.3 predicts it")


def after_announce_panic(before: Sequence[Slot], cap: int, change: Change, key: bytes,
                         packed: int, *, stale: set[bytes]) -> list[Slot]:
    """The user's list in the shard map after an announce whose purge panicked.

    ``before`` is the stored slice (sorted by key) and ``cap`` its capacity;
    ``change`` with ``key``/``packed`` is the announce's update; ``stale``
    the keys the loop removes. The map still holds the old slice header
    (the write-back comes after the loop), so it shows ``len(before)``
    elements of whatever array the update and the loop shifted in place;
    when the update reallocated (an insert into a full slice) the map's
    array is untouched and the old list survives as it was.
    """
    n = len(before)
    array = list(before)
    length = n
    if change is Change.UPDATE:
        array[_index(array, key)] = (key, packed)
    elif change is Change.REMOVE:
        i = _index(array, key)
        array[i:n - 1] = array[i + 1:n]
        length = n - 1
    else:
        i = bisect_left([k for k, _ in array], key)
        if n == cap:
            local = [*array[:i], (key, packed), *array[i:]]
            _expire(local, n + 1, stale)
            return list(before)
        array.append(array[-1] if array else (key, packed))
        array[i + 1:n + 1] = array[i:n]
        array[i] = (key, packed)
        length = n + 1
    _expire(array, length, stale)
    return array[:n]


def after_gc_panic(before: Sequence[Slot], stale: set[bytes]) -> list[Slot]:
    """The user's list after GC's loop panicked on it: GC works on a copy of
    the header, so the map shows the full old length over the shifted array
    (nothing removed, the survivors shifted left and the last ones repeated)."""
    array = list(before)
    _expire(array, len(array), stale)
    return array


def _index(array: Sequence[Slot], key: bytes) -> int:
    for i, (k, _) in enumerate(array):
        if k == key:
            return i
    raise ValueError(f"key {key.hex()} is not in the slice")
