"""The clients' wake-up schedule: a calendar queue of one-second buckets.

Items are objects with a ``wake_at`` time and a unique integer ``serial``,
served in ``(wake_at, serial)`` order, exactly as a binary heap of
``(wake_at, serial, item)`` tuples would serve them. The queue holds the
items themselves (no tuple per entry: at a million clients that is 64 MB),
so an item's ``wake_at`` must not change while it is queued. A heap of
every client costs about 2 log2(n) comparisons per wake-up at n clients;
here an item is appended to its second's bucket, and a bucket is sorted
once when the clock reaches it (a few dozen items per second at 100k
clients, sorted in C).
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections.abc import Iterator
from operator import attrgetter
from typing import Any, Protocol


class Wakeable(Protocol):
    """What the queue needs of an item."""

    wake_at: float
    serial: int


_ORDER = attrgetter("wake_at", "serial")


class WakeQueue:
    """A priority queue of items ordered by ``(wake_at, serial)``, for times
    that mostly grow."""

    __slots__ = ("_buckets", "_current", "_current_second", "_pos", "_seconds", "_size")

    def __init__(self) -> None:
        self._buckets: dict[int, list[Any]] = {}
        self._seconds: list[int] = []  # heap of the buckets' seconds
        self._current: list[Any] = []  # the earliest bucket, sorted, read from _pos
        self._current_second: int | None = None
        self._pos = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, item: Wakeable) -> None:
        """Add ``item`` (its ``wake_at`` is set and stays until it is popped)."""
        second = int(item.wake_at)
        self._size += 1
        if second == self._current_second:
            insort(self._current, item, lo=self._pos, key=_ORDER)
            return
        current = self._current_second
        if current is not None and second < current:
            # Earlier than the bucket being served (rare): put the rest of
            # that bucket back and make the new second current.
            self._buckets[current] = self._current[self._pos:]
            heapq.heappush(self._seconds, current)
            self._current_second = None
            self._current = []
            self._pos = 0
        bucket = self._buckets.get(second)
        if bucket is None:
            self._buckets[second] = [item]
            heapq.heappush(self._seconds, second)
        else:
            bucket.append(item)

    def _load(self) -> bool:
        """Make the earliest bucket current; False when empty."""
        if self._current_second is not None and self._pos < len(self._current):
            return True
        if not self._seconds:
            self._current_second = None
            self._current = []
            self._pos = 0
            return False
        second = heapq.heappop(self._seconds)
        bucket = self._buckets.pop(second)
        bucket.sort(key=_ORDER)
        self._current = bucket
        self._current_second = second
        self._pos = 0
        return True

    def first_time(self) -> float | None:
        """The earliest item's ``wake_at``, or None when empty."""
        if not self._load():
            return None
        t: float = self._current[self._pos].wake_at
        return t

    def pop_due(self, now: float) -> Any:
        """Remove and return the earliest item if its ``wake_at`` is ``<= now``,
        else None."""
        if (self._current_second is None or self._pos >= len(self._current)) and (
                not self._load()):
            return None
        item = self._current[self._pos]
        if item.wake_at > now:
            return None
        self._pos += 1
        self._size -= 1
        return item

    def pop(self) -> Any:
        """Remove and return the earliest item (the queue must not be empty)."""
        if not self._load():
            raise IndexError("pop from an empty WakeQueue")
        item = self._current[self._pos]
        self._pos += 1
        self._size -= 1
        return item

    def __iter__(self) -> Iterator[Any]:
        """Every queued item, in no particular order."""
        if self._current_second is not None:
            yield from self._current[self._pos:]
        for bucket in self._buckets.values():
            yield from bucket
