"""Fast FIFO primitives with the queueing behaviour of ``simpy.Resource``.

SimPy's ``Resource`` makes a request event per acquisition and a process per
user; at a hundred thousand clients that is most of the cost of a run. The
two primitives here keep the same discipline (first come, first served;
a free unit is taken at once) with fewer events:

* :class:`FifoLock`, ``Resource(capacity=1)``: taking a free lock costs no
  event; a waiter is handed the lock by one timeout when the holder's time
  is up (:meth:`FifoLock.release_after`) or when it is released
  (:meth:`FifoLock.release`).
* :class:`ConnectionPool`, ``Resource(capacity=P)``: a counter of free
  units and a queue; :meth:`ConnectionPool.release` passes the unit
  straight to the next waiter, with no event at all.

``tests/sim/test_sim_resources.py`` checks both against ``simpy.Resource``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from simpy.events import Event

from ._kernel import SimEnvironment


class FifoLock:
    """A FIFO mutex on a SimPy clock.

    The lock is busy until ``free_at`` (a timed hold) or while ``held`` (a
    hold of unknown length). Waiters queue in arrival order; when the lock
    comes free, ``grant(lock)`` is called and must take the first waiter
    (``lock.queue.popleft()``) and hold the lock for it, or leave the queue
    alone to stop serving (at the end of a run).
    """

    __slots__ = ("_env", "_grant", "free_at", "held", "holder", "queue")

    def __init__(self, env: SimEnvironment, grant: Callable[[FifoLock], None]) -> None:
        self._env = env
        self._grant = grant
        self.free_at = 0.0
        self.held = False
        self.holder: Any = None
        """The waiter holding the lock through :meth:`hold` (for inspection)."""
        self.queue: deque[Any] = deque()

    def is_free(self, now: float) -> bool:
        """Whether an arrival at ``now`` takes the lock at once (nobody holds
        it or waits for it)."""
        return not self.held and self.free_at <= now and not self.queue

    def in_system(self, now: float) -> int:
        """Waiters plus the holder, if any, at ``now``."""
        return len(self.queue) + (self.held or self.free_at > now)

    def wait(self, waiter: Any, now: float) -> None:
        """Queue ``waiter`` (the lock is not free)."""
        queue = self.queue
        queue.append(waiter)
        if len(queue) == 1 and not self.held:
            # The first waiter arms the handoff; later ones follow in turn.
            self._env.call_later(self.free_at - now, self._handoff)

    def release_after(self, now: float, delay: float) -> None:
        """The holder keeps the lock ``delay`` more seconds from ``now``."""
        self.free_at = now + delay
        if self.queue:
            self._env.call_later(delay, self._handoff)

    def hold(self, holder: Any) -> None:
        """Keep the lock until :meth:`release` (e.g. during a delivery on the path)."""
        self.held = True
        self.holder = holder

    def release(self, now: float) -> None:
        """End a :meth:`hold` at ``now``; the next waiter gets the lock."""
        self.held = False
        self.holder = None
        self.free_at = now
        if self.queue:
            self._env.call_later(0, self._handoff)

    def _handoff(self, _ev: Event) -> None:
        # At most one handoff is pending per lock, so no time check is needed
        # (and none is wanted: the instant may differ from free_at by an ulp).
        if not self.held and self.queue:
            self._grant(self)


class ConnectionPool:
    """``capacity`` units taken first come, first served.

    :meth:`acquire` takes a unit for ``item`` at once (returns True) or
    queues it. :meth:`release` gives the unit back, or passes it to the
    first waiter and returns that waiter (the caller starts its work). The
    pool also measures its use: :meth:`busy_seconds` is unit-seconds held.
    """

    __slots__ = ("_active_since", "_busy", "capacity", "free", "waiting")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.free = capacity
        self.waiting: deque[Any] = deque()
        self._busy = 0.0
        self._active_since = 0.0  # sum of the start instants of the units in use

    def acquire(self, item: Any, now: float) -> bool:
        """Take a unit for ``item`` at ``now``, or queue it (False)."""
        if self.free:
            self.free -= 1
            self._active_since += now
            return True
        self.waiting.append(item)
        return False

    def release(self, started: float, now: float) -> Any:
        """Give back the unit taken at ``started``; returns the waiter that
        takes it over at ``now``, or None."""
        self._busy += now - started
        if self.waiting:
            self._active_since += now - started
            return self.waiting.popleft()
        self.free += 1
        self._active_since = self._active_since - started if self.free < self.capacity else 0.0
        return None

    def in_use(self) -> int:
        """Units held now."""
        return self.capacity - self.free

    def busy_seconds(self, now: float) -> float:
        """Unit-seconds used up to ``now``, units still held included."""
        used = self.capacity - self.free
        return self._busy + (used * now - self._active_since if used else 0.0)
