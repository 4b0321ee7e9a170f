"""The virtual clients: from the workload to announces, and their answers.

Sessions (``_workload.py``) are drawn by a :class:`~._workload.SessionFactory`;
this module runs them. Client wake-ups live in one calendar queue
(``_wakes.py``) of sessions, served in order of their wake-up time (then
serial); SimPy sees one
timeout per distinct wake-up time, armed by callbacks, instead of one
process per client. A wake-up sends an announce (regular, ``completed``,
``stopped``), ends a vanished session or restarts a crashed client; the
answer (or its absence: a failure, a timeout) plans the next wake-up. A
:class:`Rejoin` in the queue is a steady-state slot to refill.

The workload is the same whatever the tracker does (common random
numbers): everything random about a session is drawn when it is created,
and the jitter of its k-th announce is a hash of (run key, serial, k).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, cast

from simpy.events import Event as SimEvent

from privtrak.reference import Event

from ._accounting import SETTLED
from ._wakes import WakeQueue
from ._workload import DONE_SENT, ENDED, RESTARTED, Catalogue, Session, SessionFactory, unit_pair

if TYPE_CHECKING:
    from ._engine import Simulation
    from ._request_path import Job, RequestPath

ANNOUNCE, COMPLETE, END, RESTART = 0, 1, 2, 3
"""What a session's next wake-up does (``Session.wk``)."""
_NONE, _STARTED, _COMPLETED, _STOPPED = Event.NONE, Event.STARTED, Event.COMPLETED, Event.STOPPED
_INF = math.inf


class Rejoin:
    """A steady-state slot to refill at ``wake_at`` (a new session joins)."""

    __slots__ = ("serial", "wake_at")

    def __init__(self, wake_at: float, serial: int) -> None:
        self.wake_at = wake_at
        self.serial = serial


class Clients:
    """Every virtual client of a run and the schedule of their wake-ups."""

    def __init__(self, sim: Simulation) -> None:
        sc = sim.scenario
        w = sc.workload
        self.sim = sim
        self.env = sim.env
        self.books = sim.books
        self.work = w
        self.interval = w.announce_interval
        self.jitter = w.jitter
        self.late_fraction = w.late_fraction
        self.timeout = sc.tracker_model.client_timeout
        self.retry_delay = sc.tracker_model.retry_delay
        self.end_time = sc.duration
        self.catalogue = Catalogue(w, sc.tracker.shard_count)
        self.factory = SessionFactory(w, self.catalogue, sc.seed)
        self.salt = self.factory.jitter_salt
        self.arrival_rng = random.Random(f"privtrak.sim:{sc.seed}:arrivals")
        self._rejoin_gap = w.rejoin_gap.sampler(self.arrival_rng)
        self.path: RequestPath | None = None
        """Where announces go; set by the simulation before the run."""
        self.answers_at_once = False
        """The hook mode answers every announce as it is sent (posthook)."""
        self._wakes = WakeQueue()
        self._armed_at = _INF
        self._armed_id = 0
        self._seq = 0

    # -- the wake-up schedule -----------------------------------------------------

    def _wake_at(self, s: Session | None, t: float, kind: int) -> None:
        if s is None:
            # Rejoins are keyed apart from sessions (negative), in planning order.
            self._seq -= 1
            self._wakes.push(Rejoin(t, self._seq))
        else:
            s.wk = kind
            s.wake_at = t
            self._wakes.push(s)
        if t < self._armed_at:
            self._arm(t)

    def _arm(self, t: float) -> None:
        """Make the tick at ``t`` the only valid one (an earlier armed tick that
        is still pending goes stale and is ignored when it fires)."""
        self._armed_at = t
        self._armed_id += 1
        self.env.call_later(t - self.env.now, self._tick, self._armed_id)

    def _tick(self, ev: SimEvent) -> None:
        if ev.value != self._armed_id or self.sim.closing:
            return
        now = self.env.now
        # While due wake-ups are served, new ones at or after now need no tick.
        self._armed_at = now
        pop_due = self._wakes.pop_due
        on_wake = self._on_wake
        s = pop_due(now)
        while s is not None:
            if s.__class__ is Rejoin:
                self.new_arrival(now, slot=True)
            else:
                on_wake(s, now)
            s = pop_due(now)
        first = self._wakes.first_time()
        if first is not None:
            self._arm(first)
        else:
            self._armed_at = _INF

    def _schedule_next(self, s: Session, t: float, announce_at: float | None = None) -> None:
        """Plan ``s``'s next wake-up after a response at ``t``."""
        if announce_at is None:
            restarted = s.flags & RESTARTED  # 0 or 1: hashes like the bool
            u_jitter, u_late = unit_pair(self.salt, s.serial, s.k, restarted)
            announce_at = t + self.interval + (2.0 * u_jitter - 1.0) * self.jitter
            late = self.late_fraction
            if late and u_late < late:
                announce_at += self.work.late_delay.quantile(
                    unit_pair(self.salt, s.serial, -1 - s.k, restarted)[0])
        # The earliest planned transition wins; a restart always comes before
        # the end (t_restart < t_end), so it happens even after a late answer.
        at, kind = announce_at, ANNOUNCE
        if not s.flags & DONE_SENT and s.t_done < at:
            at, kind = s.t_done, COMPLETE
        if s.t_restart < at:
            at, kind = s.t_restart, RESTART
        elif s.t_end < at:
            at, kind = s.t_end, END
        now = self.env.now
        self._wake_at(s, at if at > now else now, kind)

    def planned_sessions(self) -> Iterator[Session]:
        """Sessions with a wake-up planned."""
        for s in self._wakes:
            if s.__class__ is not Rejoin:
                yield s

    # -- sending -------------------------------------------------------------------

    def _on_wake(self, s: Session, now: float) -> None:
        kind = s.wk
        if kind == ANNOUNCE:
            ev = s.retry_event
            self.send(s, _NONE if ev is None else ev, now)  # type: ignore[arg-type]
        elif kind == COMPLETE:
            s.done_sent = True
            self.send(s, _COMPLETED, now)
        elif kind == END:
            if s.vanish:
                self._end_session(s, "vanished")
            else:
                s.ended = True
                s.end_cause = "stopped"
                self.send(s, _STOPPED, now)
                self._maybe_settle(s)
        else:  # RESTART
            # The crash happens at the planned instant even if this wake-up was
            # delayed by a slow answer: the workload must not depend on the tracker.
            child = self.factory.restart(s, s.t_restart)
            s.t_end = s.t_restart
            self._end_session(s, "reset")
            self.send(child, _STARTED, now)

    def _end_session(self, s: Session, cause: str) -> None:
        s.ended = True
        s.end_cause = cause
        self._maybe_settle(s)

    def _maybe_settle(self, s: Session) -> None:
        if s.flags & ENDED and s.outstanding == 0 and s.wk != SETTLED:
            self.books.settle(s, s.end_cause, s.t_end)

    def send(self, s: Session, event: Event, now: float) -> None:
        """``s`` sends an announce with ``event`` at ``now``."""
        up, down, left = s.counters(now)
        self.sim.bucket.offered += 1
        s.outstanding += 1
        if self.answers_at_once:
            self.answered(s, event, now, 0.0)
        assert self.path is not None
        self.path.arrive(s, up, down, left, event, now)

    # -- answers -------------------------------------------------------------------

    def answered(self, s: Session, event: Event, t: float, latency: float) -> None:
        """``s`` got a successful answer at ``t`` after ``latency`` seconds."""
        b = self.sim.bucket
        b.completed += 1
        b.latencies.append(latency)
        if event is _STOPPED:
            return
        s.failures = 0
        s.retry_event = None
        s.k += 1
        self._schedule_next(s, t)

    def _failed(self, s: Session, event: Event, t: float, timed_out: bool) -> None:
        b = self.sim.bucket
        if timed_out:
            b.timed_out += 1
        else:
            b.failed += 1
        if event is _STOPPED or s.flags & ENDED:
            return
        s.failures += 1
        s.retry_event = event if event is _STARTED or event is _COMPLETED else None
        delay = min(self.retry_delay * 2.0 ** min(s.failures - 1, 30), self.interval)
        self._schedule_next(s, t, t + delay)

    def start_timeout(self, job: Job) -> None:
        """The client of ``job`` gives up ``client_timeout`` after sending."""
        self.env.call_later(self.timeout, self._on_timeout, job)

    def _on_timeout(self, ev: SimEvent) -> None:
        job = cast("Job", ev.value)
        if job.resolved or self.sim.closing:
            return
        job.resolved = True
        self._failed(job.s, job.event, self.env.now, True)

    def respond(self, job: Job | None, s: Session, event: Event,  # noqa: PLR0917
                arrival: float, done: float, ok: bool) -> None:
        """The tracker answers the announce that arrived at ``arrival`` at ``done``."""
        if self.sim.closing:
            return
        if job is not None:
            if job.resolved:
                return
            job.resolved = True
        latency = done - arrival
        if latency > self.timeout:
            self._failed(s, event, arrival + self.timeout, True)
        elif ok:
            self.answered(s, event, done, latency)
        else:
            self._failed(s, event, done, False)

    # -- workload sources ------------------------------------------------------------

    def new_arrival(self, now: float, *, slot: bool, torrent: int | None = None,
                    leecher: bool | None = None) -> None:
        """A new session (and perhaps its second client) starts at ``now``."""
        s = self.factory.new(now, initial=False, slot=slot, torrent=torrent, leecher=leecher)
        twin = None
        if self.factory.pop_rng.random() < self.work.second_client_fraction:
            twin = self.factory.new(now, initial=False, slot=False, torrent=torrent,
                                    leecher=leecher)
            twin.cred, twin.shard, twin.info_hash = s.cred, s.shard, s.info_hash
        if slot:
            self._plan_rejoin(s)
        self.send(s, _STARTED, now)
        if twin is not None:
            self.send(twin, _STARTED, now)

    def _plan_rejoin(self, s: Session) -> None:
        at = s.t_end + self._rejoin_gap()
        if at < self.end_time:
            self._wake_at(None, at, ANNOUNCE)

    def populate(self, prime: Callable[[Session], None] | None) -> None:
        """The sessions running at time 0; ``prime(s)`` teaches the tracker a
        session's counters first (warm start)."""
        w, f = self.work, self.factory
        for _ in range(w.population):
            s = f.new(0.0, initial=True, slot=True)
            twin = None
            if f.pop_rng.random() < w.second_client_fraction:
                twin = f.new(0.0, initial=True, slot=False)
                twin.cred, twin.shard, twin.info_hash = s.cred, s.shard, s.info_hash
            self._plan_rejoin(s)
            for one in (s, twin):
                if one is None:
                    continue
                if prime is not None:
                    prime(one)
                # Already running: the first announce comes at a uniform phase.
                phase = unit_pair(self.salt, one.serial, -1, True)[1]
                self._schedule_next(one, 0.0, phase * w.announce_interval)

    def poisson_arrivals(self) -> Generator[SimEvent, Any, None]:
        """Extra sessions arriving as a Poisson process (``arrivals.rate``)."""
        rate = self.work.arrival_rate
        rng = self.arrival_rng
        env = self.env
        while True:
            yield env.timeout(rng.expovariate(rate))
            if self.sim.closing:
                return
            self.new_arrival(env.now, slot=False)

    def flash_crowd(self) -> Generator[SimEvent, Any, None]:
        """New torrents released at ``flash_crowd.at``; arrivals decay exponentially."""
        fc = self.work.flash_crowd
        assert fc is not None
        env = self.env
        rng = random.Random(f"privtrak.sim:{self.sim.scenario.seed}:flash")
        yield env.timeout(fc.at)
        torrents = self.catalogue.release(fc.torrents)
        # Non-homogeneous Poisson with rate r0*exp(-(t-at)/tau), by inverting the
        # cumulative rate: the total expected number of arrivals is r0*tau.
        cum = 0.0
        total = fc.initial_rate * fc.decay
        while True:
            cum += rng.expovariate(1.0)
            if cum >= total:
                return
            t = fc.at - fc.decay * math.log(1.0 - cum / total)
            if t >= self.end_time:
                return
            yield env.timeout(t - env.now)
            if self.sim.closing:
                return
            self.new_arrival(env.now, slot=False, torrent=torrents[rng.randrange(len(torrents))],
                             leecher=True)

