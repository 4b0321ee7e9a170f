"""The tracker's request path: shard locks, the core's announce, its books.

An announce arrives from a client (:meth:`RequestPath.arrive`), waits for
its user's shard lock in FIFO order (:class:`~._resources.FifoLock`), is
accounted by the reference core at the instant it holds the lock
(``now = int(env.now) + start_epoch``) and holds the lock for
``tracker_model.service_time``. What happens around that (when the client
is answered, what a batch handed out on the path does) is the hook mode's
decision (``_hooks.py``).

Public statistics of the locks, for the queueing checks: ``arrivals``,
``wait_sum``, ``sojourn_sum``, ``busy_sum`` and :meth:`RequestPath.occupancy`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

from privtrak.reference import AnnounceRequest, AnnounceResult, Event, Outcome, Tracker

from ._requests import trusted_request
from ._resources import FifoLock
from ._workload import Session, peer_id_of

if TYPE_CHECKING:
    from ._engine import Simulation
    from ._hooks import HookMode

_REJECTED = Outcome.REJECTED


class Job:
    """An announce that could not be served at once (waiting for its lock),
    or that holds its lock while a batch is delivered on its path."""

    __slots__ = ("arrival", "down", "event", "left", "resolved", "s", "up")

    def __init__(self, s: Session, up: int, down: int, left: int,  # noqa: PLR0917
                 event: Event, arrival: float) -> None:
        self.s = s
        self.up = up
        self.down = down
        self.left = left
        self.event = event
        self.arrival = arrival
        self.resolved = False
        """Set once the client has its answer or gave up."""


class RequestPath:
    """Shard locks and the accounting of every announce."""

    def __init__(self, sim: Simulation, hook: HookMode) -> None:
        sc = sim.scenario
        self.sim = sim
        self.hook = hook
        self.tracker: Tracker = sim.tracker
        self.epoch = sc.start_epoch
        self.books = sim.books
        self.service = sc.tracker_model.service_time.sampler(
            random.Random(f"privtrak.sim:{sc.seed}:service"))
        self.locks = [FifoLock(sim.env, self._granted) for _ in range(sc.tracker.shard_count)]
        self.build_request: Callable[..., AnnounceRequest] = trusted_request
        """Builds the request the core sees (replaceable to time it)."""
        # Typed to take the plain int ``int(now) + epoch``: that is whole
        # seconds on the core's clock by construction (``core_time``), and a
        # ``Seconds(...)`` wrap would cost a call on every announce.
        self.core_announce = cast(Callable[[AnnounceRequest, int], AnnounceResult],
                                  self.tracker.announce)
        """The core's announce (replaceable to time it)."""
        self._account = self.books.account
        self._answer = hook.answerer()
        self.jobs = 0
        """Announces waiting for a lock, or holding one during a delivery."""
        self.arrivals = 0
        self.wait_sum = 0.0
        self.sojourn_sum = 0.0
        self.busy_sum = 0.0

    # -- statistics ------------------------------------------------------------

    def occupancy(self, shard: int, now: float) -> int:
        """Announces at ``shard``'s lock at ``now``: waiting, plus the one holding it."""
        return self.locks[shard].in_system(now)

    def waiting_sessions(self) -> Iterator[Session]:
        """Sessions with an announce queued at a lock or holding one."""
        for lock in self.locks:
            for job in lock.queue:
                yield job.s
            if lock.holder is not None:
                yield lock.holder.s

    # -- the path ----------------------------------------------------------------

    def arrive(self, s: Session, up: int, down: int, left: int,  # noqa: PLR0917
               event: Event, now: float) -> None:
        """An announce with these counters reaches the tracker at ``now``."""
        self.arrivals += 1
        lock = self.locks[s.shard]
        if lock.is_free(now):
            self._serve(lock, None, s, up, down, left, event, now, now)
            return
        job = Job(s, up, down, left, event, now)
        self.jobs += 1
        self.sim.note_tasks()
        self.hook.queued(job)
        lock.wait(job, now)

    def _granted(self, lock: FifoLock) -> None:
        if self.sim.closing:
            return
        job: Job = lock.queue.popleft()
        self._serve(lock, job, job.s, job.up, job.down, job.left, job.event, job.arrival,
                    self.sim.env.now)

    # Hot path: positional arguments, no keyword passing.
    def _serve(self, lock: FifoLock, job: Job | None, s: Session,  # noqa: PLR0917
               up: int, down: int, left: int, event: Event, arrival: float,
               now: float) -> None:
        """The announce holds its shard lock from ``now``: account it."""
        req = self.build_request(s.cred, s.info_hash, peer_id_of(s.serial), up, down, left,
                                 event)
        res = self.core_announce(req, int(now) + self.epoch)
        if not self._account(s, up, down, event, res):
            self.sim.bucket.rejected += 1
        if job is not None:  # an announce served at once waited 0.0 s (adding it is a no-op)
            self.wait_sum += now - arrival
        flush = res.flush
        if flush is not None:
            held = job if job is not None else Job(s, up, down, left, event, arrival)
            if self.hook.flush_on_path(self, lock, held, job is None, flush, now):
                return
        svc = self.service()
        done = now + svc
        self.busy_sum += svc
        self.sojourn_sum += done - arrival
        if job is not None:
            self.jobs -= 1
            self.hook.finished(job)
        lock.release_after(now, svc)
        self._answer(job, s, event, arrival, done, res.outcome is not _REJECTED)

    def hold_for_delivery(self, lock: FifoLock, job: Job, fresh: bool) -> None:
        """``job`` keeps ``lock`` while the batch it was handed is delivered."""
        if fresh:
            self.jobs += 1
            self.sim.note_tasks()
            self.hook.queued(job)
        lock.hold(job)

    def delivered(self, lock: FifoLock, job: Job, started: float, now: float,
                  ok: bool) -> None:
        """The delivery ``job`` waited for since ``started`` ended at ``now``:
        the lock goes to the next waiter and the announce is answered."""
        self.busy_sum += now - started
        self.sojourn_sum += now - job.arrival
        self.jobs -= 1
        self.hook.finished(job)
        lock.release(now)
        self._answer(job, job.s, job.event, job.arrival, now, ok)
