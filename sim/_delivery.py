"""The delivery path: the flusher and the database calls.

Every batch the core seals reaches the DeltaHandler (the database model,
``_database.py``) through one of two doors:

* on the announce path (prehook, posthook): the announce that was handed
  the batch holds its shard lock until the call ends (:meth:`deliver` with
  a lock and a job);
* off the path, through the flusher (:meth:`pump`): it delivers
  ``next_batch()`` on the core's size and age triggers, at most
  ``flusher.parallel`` calls at a time, and wakes up at the core's next
  deadline or every ``flusher.poll``. Batches handed over by offpath
  announces or a warm start go first (:meth:`hand_over`).

A call waits (FIFO) for one of the database's ``connections`` (a
:class:`~._resources.ConnectionPool`), holds it for the call's latency,
and then the core learns the outcome (``batch_succeeded``/``batch_failed``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, cast

from simpy.events import Event as SimEvent

from privtrak.reference import Batch, Tracker

from ._database import CallOutcome, Database
from ._resources import ConnectionPool, FifoLock
from ._units import core_time

if TYPE_CHECKING:
    from ._engine import Simulation
    from ._request_path import Job, RequestPath


class Call:
    """One handler call, waiting for a database connection or holding one."""

    __slots__ = ("batch", "connected", "job", "lock", "outcome", "started")

    def __init__(self, batch: Batch, started: float, lock: FifoLock | None,
                 job: Job | None) -> None:
        self.batch = batch
        self.started = started
        self.connected = started
        self.lock = lock
        self.job = job
        self.outcome = CallOutcome.OK


class DeliveryPath:
    """The flusher, the connection pool and the calls in flight."""

    def __init__(self, sim: Simulation) -> None:
        sc = sim.scenario
        self.sim = sim
        self.env = sim.env
        self.tracker: Tracker = sim.tracker
        self.epoch = sc.start_epoch
        self.db = Database(sc.database, sc.seed)
        self.pool = ConnectionPool(sc.database.connections)
        self.request_path: RequestPath | None = None
        """Set by the simulation: where an on-path call's announce resumes."""
        self.calls = 0
        """Calls started and not finished (waiting for a connection or holding one)."""
        self.flusher_active = 0
        self.parallel = sc.tracker_model.flusher_parallel
        self.poll = sc.tracker_model.flusher_poll
        self._handed: deque[Batch] = deque()
        self._pump_at: float | None = None

    # -- calls -------------------------------------------------------------------

    def deliver(self, batch: Batch, now: float, lock: FifoLock | None = None,
                job: Job | None = None) -> None:
        """Start one handler call for ``batch`` at ``now``; ``lock``/``job`` are
        set when it runs on an announce's path."""
        self.calls += 1
        self.sim.note_tasks()
        call = Call(batch, now, lock, job)
        if self.pool.acquire(call, now):
            self._connected(call, now)

    def _connected(self, call: Call, now: float) -> None:
        call.connected = now
        latency, call.outcome = self.db.plan_call(call.batch, now)
        self.env.call_later(latency, self._finished, call)

    def _finished(self, ev: SimEvent) -> None:
        call = cast(Call, ev.value)
        env, db = self.env, self.db
        now = env.now
        following = self.pool.release(call.connected, now)
        if following is not None:  # the connection passes straight to the next call
            self._connected(following, now)
        batch, outcome = call.batch, call.outcome
        db.commit(batch, outcome)
        self.calls -= 1
        now_i = core_time(now, self.epoch)
        b = self.sim.bucket
        b.handler_calls += 1
        fail_announce = False
        if outcome is CallOutcome.OK:
            self.tracker.batch_succeeded(batch.batch_id, now_i)
            b.batches_delivered += 1
            b.records_credited += len(batch.records)
        else:
            b.handler_failures += 1
            fail_announce = self.tracker.batch_failed(batch.batch_id, now_i)
        lock, job = call.lock, call.job
        if lock is None or job is None or self.request_path is None:
            self.flusher_active -= 1
            self.pump()
            return
        self.request_path.delivered(lock, job, call.started, now, not fail_announce)

    # -- the flusher ---------------------------------------------------------------

    def hand_over(self, batch: Batch) -> None:
        """A batch the core handed out on the path, for the flusher to deliver."""
        self._handed.append(batch)
        self.pump()

    def pump(self) -> None:
        """Deliver what is due, at most ``parallel`` calls at a time, and wake
        up again at the core's next deadline, or after ``poll`` at the latest."""
        if self.sim.closing:
            return
        env, tracker = self.env, self.tracker
        now = env.now
        now_i = core_time(now, self.epoch)
        handed = self._handed
        while self.flusher_active < self.parallel:
            batch = handed.popleft() if handed else tracker.next_batch(now_i)
            if batch is None:
                break
            self.flusher_active += 1
            self.deliver(batch, now)
        # A timer due by the next whole second cannot be late: every deadline
        # the core can create from now on is a later whole second.
        pump_at = self._pump_at
        if pump_at is not None and pump_at <= math.floor(now) + 1:
            return
        wait = self.poll
        deadline = tracker.next_deadline()
        if deadline is not None:
            until = deadline - self.epoch - now
            if 0 < until < wait:
                wait = until
        at = now + wait
        if pump_at is None or pump_at > at:
            self._pump_at = at
            env.call_later(wait, self._on_timer)

    def _on_timer(self, _ev: SimEvent) -> None:
        if self._pump_at is not None and self.env.now >= self._pump_at:
            self._pump_at = None
        self.pump()

    def deliver_all(self, batches: tuple[Batch, ...] | list[Batch]) -> None:
        """Deliver ``batches`` at once, beside the flusher (the stop sequence)."""
        now = self.env.now
        for batch in batches:
            self.flusher_active += 1
            self.deliver(batch, now)
