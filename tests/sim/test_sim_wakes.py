"""The calendar queue of wake-ups serves items exactly as a binary heap of
(wake_at, serial, item) tuples does."""

from __future__ import annotations

import heapq
import random

import pytest

from privtrak.sim._wakes import WakeQueue


class Item:
    __slots__ = ("name", "serial", "wake_at")

    def __init__(self, wake_at: float, serial: int, name: str) -> None:
        self.wake_at, self.serial, self.name = wake_at, serial, name

    def entry(self) -> tuple[float, int, str]:
        return self.wake_at, self.serial, self.name


@pytest.mark.parametrize("seed", range(30))
def test_wake_queue_pops_in_heap_order_under_interleaved_pushes(seed: int) -> None:
    rng = random.Random(seed)
    q = WakeQueue()
    heap: list[tuple[float, int, str]] = []
    key = 0
    now = 0.0
    popped_q: list[tuple[float, int, str]] = []
    popped_h: list[tuple[float, int, str]] = []
    for _ in range(3000):
        action = rng.random()
        if action < 0.55 or not heap:
            key += 1
            # Mostly in the future, sometimes now, in the current second, or
            # earlier than the bucket being served.
            t = rng.choice([now, now + rng.random(), now + rng.uniform(0, 60),
                            max(0.0, now - rng.random()), float(int(now) + 1)])
            item = Item(t, key if rng.random() < 0.8 else -key, f"item{key}")
            q.push(item)
            heapq.heappush(heap, item.entry())
        else:
            now = heap[0][0] if rng.random() < 0.5 else now + rng.uniform(0, 2)
            while heap and heap[0][0] <= now:
                popped_h.append(heapq.heappop(heap))
                got = q.pop_due(now)
                assert got is not None
                popped_q.append(got.entry())
            assert q.pop_due(now) is None
        assert len(q) == len(heap)
        assert q.first_time() == (heap[0][0] if heap else None)
    assert popped_q == popped_h
    assert sorted(item.entry() for item in q) == sorted(heap)
    while heap:
        assert q.pop().entry() == heapq.heappop(heap)
    with pytest.raises(IndexError):
        q.pop()
