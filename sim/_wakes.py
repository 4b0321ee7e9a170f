"""The clients' wake-up schedule: a calendar queue of one-second buckets.

Entries are ``(time, key, item)`` tuples served in ``(time, key)`` order,
exactly as a binary heap of the same tuples would serve them (keys are
unique, so ``item`` is never compared). A heap of every client costs about
2 log2(n) tuple comparisons per wake-up at n clients; here an entry is
appended to its second's bucket, and a bucket is sorted once when the
clock reaches it (a few dozen entries per second at 100k clients, sorted
in C).
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections.abc import Iterator
from typing import Any

Entry = tuple[float, int, Any]


class WakeQueue:
    """A priority queue of ``(time, key, item)`` for times that mostly grow."""

    __slots__ = ("_buckets", "_current", "_current_second", "_pos", "_seconds", "_size")

    def __init__(self) -> None:
        self._buckets: dict[int, list[Entry]] = {}
        self._seconds: list[int] = []  # heap of the buckets' seconds
        self._current: list[Entry] = []  # the earliest bucket, sorted, read from _pos
        self._current_second: int | None = None
        self._pos = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, entry: Entry) -> None:
        """Add ``entry``."""
        second = int(entry[0])
        self._size += 1
        if second == self._current_second:
            insort(self._current, entry, lo=self._pos)
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
            self._buckets[second] = [entry]
            heapq.heappush(self._seconds, second)
        else:
            bucket.append(entry)

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
        bucket.sort()
        self._current = bucket
        self._current_second = second
        self._pos = 0
        return True

    def first_time(self) -> float | None:
        """The earliest entry's time, or None when empty."""
        if not self._load():
            return None
        return self._current[self._pos][0]

    def pop_due(self, now: float) -> Entry | None:
        """Remove and return the earliest entry if its time is ``<= now``."""
        if (self._current_second is None or self._pos >= len(self._current)) and (
                not self._load()):
            return None
        entry = self._current[self._pos]
        if entry[0] > now:
            return None
        self._pos += 1
        self._size -= 1
        return entry

    def pop(self) -> Entry:
        """Remove and return the earliest entry (the queue must not be empty)."""
        if not self._load():
            raise IndexError("pop from an empty WakeQueue")
        entry = self._current[self._pos]
        self._pos += 1
        self._size -= 1
        return entry

    def __iter__(self) -> Iterator[Entry]:
        """Every entry, in no particular order."""
        if self._current_second is not None:
            yield from self._current[self._pos:]
        for bucket in self._buckets.values():
            yield from bucket
