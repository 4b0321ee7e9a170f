"""The simulation: virtual clients, shard locks, hook modes, flusher, GC.

Every simulated announce goes through :class:`privtrak.reference.Tracker`
at the simulated instant (``now = int(env.now) + start_epoch``); the engine
only adds time, contention and cost. Design for speed (README.md, "How it
runs"):

* Client wake-ups live in one heap of ``(time, serial, session)`` tuples;
  SimPy sees one timeout per distinct wake-up time, armed by callbacks, not
  one process per client.
* A shard lock is a FIFO mutex on the SimPy clock (:class:`ShardLock`): the
  same queueing behaviour as ``simpy.Resource(capacity=1)``, but an
  announce that finds it free is served at once without any event; events
  are scheduled only to hand the lock to the next waiter.
* Database calls, the flusher, GC, sampling and progress are SimPy
  processes: there are few of them.

Hook modes: ``prehook`` answers after the accounting (a batch the core
hands out on the path is delivered under the shard lock before answering;
clients time out after ``client_timeout`` and retry), ``posthook`` answers
at once and accounts in a task that waits for its shard lock, ``offpath``
answers after the accounting but never waits for the database: a batch
handed out on the path goes to the flusher.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, cast

import simpy
from simpy.events import Event as SimEvent
from simpy.events import Timeout

from privtrak.reference import (
    AnnounceRequest,
    Batch,
    Cause,
    DeltaRecord,
    Event,
    Outcome,
    Tracker,
    TrackerState,
)

from ._accounting import Ledger
from ._database import CallOutcome, Database
from ._scenario import Scenario
from ._stats import Bucket, Gauges, close_bucket
from ._workload import Catalogue, Session, SessionFactory, peer_id_of, unit_pair

ANNOUNCE, COMPLETE, END, RESTART = 0, 1, 2, 3
SETTLED = -1
"""``Session.wk`` of a session whose books are closed."""
_NONE, _STARTED, _COMPLETED, _STOPPED = Event.NONE, Event.STARTED, Event.COMPLETED, Event.STOPPED
_REJECTED = Outcome.REJECTED
_INF = math.inf


class ShardLock:
    """A FIFO mutex: held until ``free_at`` (a timed hold), or until released
    (``held``, e.g. while a batch is delivered under the lock)."""

    __slots__ = ("free_at", "held", "holder", "queue")

    def __init__(self) -> None:
        self.free_at = 0.0
        self.held = False
        self.holder: Job | None = None
        self.queue: deque[Job] = deque()


class Job:
    """An announce that could not be served at once: waiting for its lock, or
    holding it while a batch is delivered on its path."""

    __slots__ = ("arrival", "down", "event", "req", "resolved", "s", "up")

    def __init__(self, s: Session, req: AnnounceRequest, up: int, down: int,  # noqa: PLR0917
                 event: Event, arrival: float) -> None:
        self.s = s
        self.req = req
        self.up = up
        self.down = down
        self.event = event
        self.arrival = arrival
        self.resolved = False


class Call:
    """One handler call, waiting for a database connection or holding one."""

    __slots__ = ("batch", "job", "lock", "outcome", "started")

    def __init__(self, batch: Batch, lock: ShardLock | None, job: Job | None,
                 started: float) -> None:
        self.batch = batch
        self.lock = lock
        self.job = job
        self.started = started
        self.outcome = CallOutcome.OK


class Simulation:
    """One run of a scenario. Call :meth:`run` once."""

    def __init__(self, scenario: Scenario,
                 on_progress: Callable[[float], None] | None = None,
                 progress_step: float | None = None) -> None:
        sc = self.scenario = scenario
        self.env = env = simpy.Environment()
        self.epoch = sc.start_epoch
        self.tracker = Tracker(sc.tracker, now=sc.start_epoch)
        self.mode = sc.hook_mode
        self.posthook = sc.hook_mode == "posthook"
        self.offpath = sc.hook_mode == "offpath"
        w = sc.workload
        self.work = w
        self.interval = w.announce_interval
        self.jitter = w.jitter
        self.late_fraction = w.late_fraction
        tm = sc.tracker_model
        self.timeout = tm.client_timeout
        self.retry_delay = tm.retry_delay
        self.service = tm.service_time.sampler(random.Random(f"privtrak.sim:{sc.seed}:service"))
        self.arrival_rng = random.Random(f"privtrak.sim:{sc.seed}:arrivals")
        self._rejoin_gap = w.rejoin_gap.sampler(self.arrival_rng)
        self.catalogue = Catalogue(w, sc.tracker.shard_count)
        self.factory = SessionFactory(w, self.catalogue, sc.seed)
        self.salt = self.factory.jitter_salt
        self.db = Database(sc.database, sc.seed)
        self.locks = [ShardLock() for _ in range(sc.tracker.shard_count)]
        self.ledger = Ledger()
        # Client wake-ups and the SimPy ticks armed to serve them.
        # A ``None`` session stands for a steady-state slot to refill (a rejoin).
        self._wakes: list[tuple[float, int, Session | None]] = []
        self._armed_at = _INF
        self._armed_id = 0
        self._seq = 0
        # In-flight work, for the gauges and the memory model.
        self.jobs = 0
        self.requests = 0
        self.deliveries = 0
        self.flusher_active = 0
        self._offq: deque[Batch] = deque()
        self._pump_at: float | None = None
        self.flusher_parallel = tm.flusher_parallel
        self.flusher_poll = tm.flusher_poll
        self.closing = False
        self.interrupted = False
        self.returned_records: list[DeltaRecord] = []
        """Records the core's stop handed back (policy ``return``)."""
        # Queueing statistics of the shard locks.
        self.lock_arrivals = 0
        self.lock_wait_sum = 0.0
        self.lock_sojourn_sum = 0.0
        self.lock_busy_sum = 0.0
        self.announces_accounted = 0
        self.series: list[dict[str, object]] = []
        self.bucket = Bucket(0.0, 0)
        self.end_time = sc.duration
        self._end = env.event()
        self._on_progress = on_progress
        self._progress_step = progress_step or max(min(300.0, sc.duration / 100), 1.0)

    # -- scheduling of client wake-ups ---------------------------------------

    def _wake_at(self, s: Session | None, t: float, kind: int) -> None:
        if s is not None:
            s.wk = kind
        if s is None:
            # Rejoins are keyed apart from sessions (negative), in planning order.
            self._seq -= 1
            heapq.heappush(self._wakes, (t, self._seq, None))
        else:
            heapq.heappush(self._wakes, (t, s.serial, s))
        if t < self._armed_at:
            self._arm(t)

    def _arm(self, t: float) -> None:
        """Make the tick at ``t`` the only valid one (an earlier armed tick that
        is still pending goes stale and is ignored when it fires)."""
        self._armed_at = t
        self._armed_id += 1
        delay = t - self.env.now
        Timeout(self.env, delay if delay > 0 else 0, self._armed_id).callbacks.append(self._tick)

    def _tick(self, ev: SimEvent) -> None:
        if ev.value != self._armed_id or self.closing:
            return
        now = self.env.now
        # While due wake-ups are served, new ones at or after now need no tick.
        self._armed_at = now
        wakes = self._wakes
        while wakes and wakes[0][0] <= now:
            s = heapq.heappop(wakes)[2]
            if s is None:
                self._new_arrival(now, slot=True)
            else:
                self._on_wake(s, now)
        if wakes:
            self._arm(wakes[0][0])
        else:
            self._armed_at = _INF

    def _schedule_next(self, s: Session, t: float, announce_at: float | None = None) -> None:
        """Plan ``s``'s next wake-up after a response at ``t``."""
        if announce_at is None:
            u_jitter, u_late = unit_pair(self.salt, s.serial, s.k, s.restarted)
            announce_at = t + self.interval + (2.0 * u_jitter - 1.0) * self.jitter
            late = self.late_fraction
            if late and u_late < late:
                announce_at += self.work.late_delay.quantile(
                    unit_pair(self.salt, s.serial, -1 - s.k, s.restarted)[0])
        # The earliest planned transition wins; a restart always comes before
        # the end (t_restart < t_end), so it happens even after a late answer.
        at, kind = announce_at, ANNOUNCE
        if not s.done_sent and s.t_done < at:
            at, kind = s.t_done, COMPLETE
        if s.t_restart < at:
            at, kind = s.t_restart, RESTART
        elif s.t_end < at:
            at, kind = s.t_end, END
        now = self.env.now
        self._wake_at(s, at if at > now else now, kind)

    # -- the client side -------------------------------------------------------

    def _on_wake(self, s: Session, now: float) -> None:
        kind = s.wk
        if kind == ANNOUNCE:
            ev = s.retry_event
            self._send(s, _NONE if ev is None else ev, now)  # type: ignore[arg-type]
        elif kind == COMPLETE:
            s.done_sent = True
            self._send(s, _COMPLETED, now)
        elif kind == END:
            if s.vanish:
                self._end_session(s, "vanished")
            else:
                s.ended = True
                s.end_cause = "stopped"
                self._send(s, _STOPPED, now)
                self._maybe_settle(s)
        else:  # RESTART
            # The crash happens at the planned instant even if this wake-up was
            # delayed by a slow answer: the workload must not depend on the tracker.
            child = self.factory.restart(s, s.t_restart)
            s.t_end = s.t_restart
            self._end_session(s, "reset")
            self._send(child, _STARTED, now)

    def _end_session(self, s: Session, cause: str) -> None:
        s.ended = True
        s.end_cause = cause
        self._maybe_settle(s)

    def _maybe_settle(self, s: Session) -> None:
        if s.ended and s.outstanding == 0 and s.wk != SETTLED:
            self._settle(s, s.end_cause, s.t_end)

    def _settle(self, s: Session, cause: str, t: float) -> None:
        """Close ``s``'s books: its truth joins the total, its unreported tail a cause."""
        s.wk = SETTLED
        up, down, _ = s.counters(t)
        lg = self.ledger
        lg.add("transferred", up - s.base_up, down - s.base_down)
        tail_up, tail_down = up - s.acc_up, down - s.acc_down
        if tail_up or tail_down:
            lg.add("unreported" if cause in ("stopped", "unreported") else cause,
                   tail_up, tail_down)

    def _send(self, s: Session, event: Event, now: float) -> None:
        up, down, left = s.counters(now)
        req = AnnounceRequest(s.cred, s.info_hash, peer_id_of(s.serial), up, down, left, event)
        b = self.bucket
        b.offered += 1
        s.outstanding += 1
        self.lock_arrivals += 1
        if self.posthook:
            self._client_ok(s, event, now, 0.0)
        lock = self.locks[s.shard]
        if not lock.held and lock.free_at <= now and not lock.queue:
            self._serve(lock, None, s, req, up, down, event, now, now)
            return
        job = Job(s, req, up, down, event, now)
        self.jobs += 1
        self._note_tasks()
        if not self.posthook:
            self.requests += 1
            Timeout(self.env, self.timeout, job).callbacks.append(self._on_timeout)
        lock.queue.append(job)
        if len(lock.queue) == 1 and not lock.held:
            delay = lock.free_at - now
            Timeout(self.env, delay if delay > 0 else 0, lock).callbacks.append(self._handoff)

    def _note_tasks(self) -> None:
        tasks = self.jobs + self.deliveries
        b = self.bucket
        b.peak_tasks = max(b.peak_tasks, tasks)

    def _client_ok(self, s: Session, event: Event, t: float, latency: float) -> None:
        b = self.bucket
        b.completed += 1
        b.latencies.append(latency)
        if event is _STOPPED:
            return
        s.failures = 0
        s.retry_event = None
        s.k += 1
        self._schedule_next(s, t)

    def _client_failed(self, s: Session, event: Event, t: float, timed_out: bool) -> None:
        b = self.bucket
        if timed_out:
            b.timed_out += 1
        else:
            b.failed += 1
        if event is _STOPPED or s.ended:
            return
        s.failures += 1
        s.retry_event = event if event is _STARTED or event is _COMPLETED else None
        delay = min(self.retry_delay * 2.0 ** min(s.failures - 1, 30), self.interval)
        self._schedule_next(s, t, t + delay)

    def _on_timeout(self, ev: SimEvent) -> None:
        job = cast(Job, ev.value)
        if job.resolved or self.closing:
            return
        job.resolved = True
        self._client_failed(job.s, job.event, self.env.now, True)

    def _respond(self, job: Job | None, s: Session, event: Event,  # noqa: PLR0917
                 arrival: float, done: float, ok: bool) -> None:
        """The tracker answers the announce that arrived at ``arrival`` at ``done``."""
        if self.posthook or self.closing:
            return
        if job is not None:
            if job.resolved:
                return
            job.resolved = True
        latency = done - arrival
        if latency > self.timeout:
            self._client_failed(s, event, arrival + self.timeout, True)
        elif ok:
            self._client_ok(s, event, done, latency)
        else:
            self._client_failed(s, event, done, False)

    # -- the tracker side -------------------------------------------------------

    def _handoff(self, ev: SimEvent) -> None:
        lock = cast(ShardLock, ev.value)
        if self.closing or lock.held or not lock.queue:
            return
        # At most one handoff is pending per lock, so no time check is needed here
        # (and none is wanted: the scheduled instant may differ from free_at by an ulp).
        now = self.env.now
        job = lock.queue.popleft()
        self._serve(lock, job, job.s, job.req, job.up, job.down, job.event, job.arrival, now)

    # Hot path: positional arguments, no keyword passing.
    def _serve(self, lock: ShardLock, job: Job | None, s: Session,  # noqa: PLR0917
               req: AnnounceRequest, up: int, down: int, event: Event, arrival: float,
               now: float) -> None:
        """The announce holds its shard lock from ``now``: account it."""
        res = self.tracker.announce(req, int(now) + self.epoch)
        self._account(s, up, down, event, res.outcome, res.credited_up, res.credited_down,
                      res.cause)
        self.lock_wait_sum += now - arrival
        flush = res.flush
        if flush is not None:
            if not self.offpath:
                lock.held = True
                if job is None:
                    job = Job(s, req, up, down, event, arrival)
                    self.jobs += 1
                    self._note_tasks()
                    if not self.posthook:
                        self.requests += 1
                        Timeout(self.env, self.timeout, job).callbacks.append(self._on_timeout)
                lock.holder = job
                self._deliver(flush, lock, job, now)
                return
            self._offq.append(flush)
            self._pump()
        svc = self.service()
        done = now + svc
        lock.free_at = done
        self.lock_busy_sum += svc
        self.lock_sojourn_sum += done - arrival
        if job is not None:
            self.jobs -= 1
            if not self.posthook:
                self.requests -= 1
        if lock.queue:
            Timeout(self.env, svc, lock).callbacks.append(self._handoff)
        if not self.posthook:
            self._respond(job, s, event, arrival, done, res.outcome is not _REJECTED)

    def _account(self, s: Session, up: int, down: int, event: Event,  # noqa: PLR0917
                 outcome: Outcome, credited_up: int, credited_down: int,
                 cause: Cause | None) -> None:
        """Book one accounted announce against the session's ground truth."""
        self.announces_accounted += 1
        s.outstanding -= 1
        if outcome is _REJECTED:
            self.bucket.rejected += 1
            if event is _STOPPED:
                s.end_cause = "rejected"
        else:
            lost_up = up - s.acc_up - credited_up
            lost_down = down - s.acc_down - credited_down
            if lost_up or lost_down:
                if cause is Cause.BASELINE or outcome is Outcome.STOPPED_UNKNOWN:
                    # No baseline: the session's first, or the tracker forgot it.
                    name = "purge_gap" if s.accepted else "baseline"
                elif cause is None:
                    name = "reset" if (s.restarted and not s.accepted) else "shared_key"
                else:
                    name = str(cause)
                self.ledger.add(name, lost_up, lost_down)
            s.acc_up = up
            s.acc_down = down
            s.accepted = True
        if s.ended and s.outstanding == 0 and s.wk != SETTLED:
            self._settle(s, s.end_cause, s.t_end)

    def _deliver(self, batch: Batch, lock: ShardLock | None, job: Job | None,
                 started: float) -> None:
        """Start one handler call: it waits for a free connection (FIFO), holds
        it for the call's latency, then :meth:`_db_done` reports the outcome.
        ``lock``/``job`` are set when the call runs on an announce's path."""
        self.deliveries += 1
        self._note_tasks()
        call = Call(batch, lock, job, started)
        db = self.db
        if db.free:
            db.free -= 1
            self._db_start(call)
        else:
            db.waiting.append(call)

    def _db_start(self, call: Call) -> None:
        latency, call.outcome = self.db.plan_call(call.batch, self.env.now)
        Timeout(self.env, latency, call).callbacks.append(self._db_done)

    def _db_done(self, ev: SimEvent) -> None:
        call = cast(Call, ev.value)
        env, db = self.env, self.db
        if db.waiting:  # the connection passes straight to the next call in line
            self._db_start(db.waiting.popleft())
        else:
            db.free += 1
        batch, outcome = call.batch, call.outcome
        db.commit(batch, outcome)
        self.deliveries -= 1
        now_i = int(env.now) + self.epoch
        b = self.bucket
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
        if lock is None or job is None:
            self.flusher_active -= 1
            self._pump()
            return
        # On the announce path: the lock is released and the announce answered now.
        now = env.now
        lock.held = False
        lock.holder = None
        lock.free_at = now
        self.lock_busy_sum += now - call.started
        self.lock_sojourn_sum += now - job.arrival
        self.jobs -= 1
        if not self.posthook:
            self.requests -= 1
        if lock.queue:
            Timeout(env, 0, lock).callbacks.append(self._handoff)
        self._respond(job, job.s, job.event, job.arrival, now, not fail_announce)

    def _pump(self) -> None:
        """The flusher: deliver what is due off the announce path, at most
        ``flusher.parallel`` calls at a time, and wake up again at the next
        deadline the core announces, or after ``flusher.poll`` at the latest."""
        if self.closing:
            return
        env, tracker = self.env, self.tracker
        now_i = int(env.now) + self.epoch
        offq = self._offq
        while self.flusher_active < self.flusher_parallel:
            batch = offq.popleft() if offq else tracker.next_batch(now_i)
            if batch is None:
                break
            self.flusher_active += 1
            self._deliver(batch, None, None, env.now)
        # A timer due by the next whole second cannot be late: every deadline
        # the core can create from now on is a later whole second.
        pump_at = self._pump_at
        if pump_at is not None and pump_at <= math.floor(env.now) + 1:
            return
        wait = self.flusher_poll
        deadline = tracker.next_deadline()
        if deadline is not None:
            until = deadline - self.epoch - env.now
            if 0 < until < wait:
                wait = until
        at = env.now + wait
        if self._pump_at is None or self._pump_at > at:
            self._pump_at = at
            Timeout(env, wait).callbacks.append(self._on_pump_timer)

    def _on_pump_timer(self, _ev: SimEvent) -> None:
        if self._pump_at is not None and self.env.now >= self._pump_at:
            self._pump_at = None
        self._pump()

    def _gc(self) -> Generator[SimEvent, Any, None]:
        env, tracker = self.env, self.tracker
        while not self.closing:
            yield env.timeout(max(0.0, tracker.next_gc_at - self.epoch - env.now))
            if self.tracker.state is not TrackerState.OPEN:
                return
            tracker.collect_garbage(int(env.now) + self.epoch)
            self._pump()

    # -- workload sources ---------------------------------------------------------

    def _start_session(self, s: Session, now: float) -> None:
        self._send(s, _STARTED, now)

    def _new_arrival(self, now: float, *, slot: bool, torrent: int | None = None,
                     leecher: bool | None = None) -> None:
        s = self.factory.new(now, initial=False, slot=slot, torrent=torrent, leecher=leecher)
        twin = None
        if self.factory.pop_rng.random() < self.work.second_client_fraction:
            twin = self.factory.new(now, initial=False, slot=False, torrent=torrent,
                                    leecher=leecher)
            twin.cred, twin.shard, twin.info_hash = s.cred, s.shard, s.info_hash
        if slot:
            self._plan_rejoin(s)
        self._start_session(s, now)
        if twin is not None:
            self._start_session(twin, now)

    def _plan_rejoin(self, s: Session) -> None:
        at = s.t_end + self._rejoin_gap()
        if at < self.end_time:
            self._wake_at(None, at, ANNOUNCE)

    def _populate(self) -> None:
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
                if w.warm_start:
                    self._prime(one)
                # Already running: the first announce comes at a uniform phase.
                phase = unit_pair(self.salt, one.serial, -1, True)[1]
                self._schedule_next(one, 0.0, phase * w.announce_interval)

    def _prime(self, s: Session) -> None:
        """Warm start: the tracker learnt ``s``'s counters before time 0 (its
        previous announce); not an announce of the run, so not counted as one."""
        up, down, left = s.counters(0.0)
        s.outstanding += 1
        res = self.tracker.announce(
            AnnounceRequest(s.cred, s.info_hash, peer_id_of(s.serial), up, down, left, _NONE),
            self.epoch)
        self._account(s, up, down, _NONE, res.outcome, res.credited_up, res.credited_down,
                      res.cause)
        self.announces_accounted -= 1
        if res.flush is not None:  # delivered by the flusher once the run starts
            self._offq.append(res.flush)

    def _poisson(self) -> Generator[SimEvent, Any, None]:
        rate = self.work.arrival_rate
        rng = self.arrival_rng
        while True:
            yield self.env.timeout(rng.expovariate(rate))
            if self.closing:
                return
            self._new_arrival(self.env.now, slot=False)

    def _flash(self) -> Generator[SimEvent, Any, None]:
        fc = self.work.flash_crowd
        assert fc is not None
        env, rng = self.env, random.Random(f"privtrak.sim:{self.scenario.seed}:flash")
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
            if self.closing:
                return
            self._new_arrival(env.now, slot=False, torrent=torrents[rng.randrange(len(torrents))],
                              leecher=True)

    # -- sampling, progress, end -----------------------------------------------

    def gauges(self) -> Gauges:
        """The tracker's state now, with the memory model applied."""
        tracker = self.tracker
        m = tracker.metrics()
        now_i = int(self.env.now) + self.epoch
        oldest: int | None = None
        for batch in tracker.waiting_batches() + tracker.in_flight_batches():
            if batch.records:
                t = min(r.time for r in batch.records)
                oldest = t if oldest is None or t < oldest else oldest
        if m.buffered_records:
            recs = tracker.buffered_records()
            t = min(r.time for r in recs)
            oldest = t if oldest is None or t < oldest else oldest
        tasks = self.jobs + self.deliveries
        mem = self.scenario.memory
        memory = (mem.base_bytes + mem.record_bytes * m.entries
                  + mem.delta_bytes * m.pending_records + mem.task_bytes * tasks
                  + mem.request_bytes * self.requests)
        return Gauges(m.pending_records, m.buffered_records, m.entries, m.users, tasks,
                      self.requests, memory, None if oldest is None else float(now_i - oldest))

    def _close_bucket(self, t_end: float) -> None:
        row = close_bucket(self.bucket, t_end, self.gauges())
        self.series.append(row)
        self.bucket = Bucket(t_end, self.jobs + self.deliveries)

    def _sampler(self) -> Generator[SimEvent, Any, None]:
        width = self.scenario.bucket
        k = 0
        while True:
            k += 1
            t = min(k * width, self.end_time)
            yield self.env.timeout(t - self.env.now)
            if self.closing:
                return
            self._close_bucket(t)

    def _progress(self) -> Generator[SimEvent, Any, None]:
        step = self._progress_step
        while True:
            yield self.env.timeout(step)
            if self._on_progress is not None:
                self._on_progress(self.env.now)
            if self.interrupted and not self._end.triggered:
                self._end.succeed()
                return

    def interrupt(self) -> None:
        """Ask the run to stop at the next progress step (e.g. on Ctrl-C)."""
        self.interrupted = True

    def run(self) -> None:
        """Run the scenario to its end (or to an interruption), then settle."""
        env = self.env
        self._populate()
        if self.work.arrival_rate > 0:
            env.process(self._poisson())
        if self.work.flash_crowd is not None:
            env.process(self._flash())
        self._pump()
        env.process(self._gc())
        env.process(self._sampler())
        env.process(self._progress())
        Timeout(env, self.end_time).callbacks.append(self._reach_end)
        env.run(until=self._end)
        end = env.now
        self.end_time = end
        if self.bucket.t_start < end or not self.series:
            self._close_bucket(end)
        self.closing = True
        if self.scenario.tracker_model.stop_at_end and not self.interrupted:
            self._shutdown()
        for s in self._unsettled():
            self._settle(s, "unreported", min(end, s.t_end))

    def _unsettled(self) -> list[Session]:
        """Every session whose books are still open: those with a wake-up
        planned, and those whose announce waits for a lock or holds one. No
        registry is kept during the run (it would cost memory per client)."""
        found: dict[int, Session] = {}
        for _, _, s in self._wakes:
            if s is not None and s.wk != SETTLED:
                found[id(s)] = s
        for lock in self.locks:
            jobs = list(lock.queue)
            if lock.holder is not None:
                jobs.append(lock.holder)
            for job in jobs:
                if job.s.wk != SETTLED:
                    found[id(job.s)] = job.s
        # Settling only adds integers, so the order does not matter.
        return list(found.values())

    def _reach_end(self, _ev: SimEvent) -> None:
        if not self._end.triggered:
            self._end.succeed()

    def _shutdown(self) -> None:
        """The tracker's stop sequence: let deliveries finish, stop, deliver, close."""
        env, tracker = self.env, self.tracker
        while self.deliveries and env.peek() < _INF:
            env.step()
        batches = tracker.stop(int(env.now) + self.epoch)
        for batch in batches:
            self.flusher_active += 1
            self._deliver(batch, None, None, env.now)
        while self.deliveries and env.peek() < _INF:
            env.step()
        report = tracker.close(int(env.now) + self.epoch)
        self.returned_records = [r for b in report.returned for r in b.records]
        if self.bucket.handler_calls:
            # The stop's deliveries get a row of their own, after the run's end.
            self._close_bucket(env.now)
