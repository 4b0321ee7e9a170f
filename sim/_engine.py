"""The simulation: the parts of the tracker model, wired and run.

Every simulated announce goes through :class:`privtrak.reference.Tracker`
at the simulated instant (``now = int(env.now) + start_epoch``); the model
only adds time, contention and cost. Its parts, each a module (as SimPy
splits its ``core`` from its ``resources``):

* ``_kernel.py``: the clock, a counting ``simpy.Environment``, and the
  truce that keeps Python's cyclic collector off the population;
* ``_resources.py``: the FIFO lock and the connection pool;
* ``_clients.py``: the virtual clients, from the workload to announces;
* ``_request_path.py``: shard locks and the core's announce;
* ``_hooks.py``: the hook modes, one object per mode;
* ``_delivery.py``: the flusher and the database calls;
* ``_gc.py``: the tracker's garbage collection;
* ``_accounting.py``: where every byte goes.

:class:`Simulation` holds what they share (the core, the clock, the
current time-series bucket, the run's books) and runs them: it builds the
population, starts the processes, steps the clock to the end, samples the
gauges once per bucket and settles every session at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, NamedTuple

from simpy.events import Event as SimEvent

from privtrak.reference import DeltaRecord, Event, Tracker

from ._accounting import SETTLED, Books
from ._clients import Clients
from ._database import Database
from ._delivery import DeliveryPath
from ._gc import garbage_collector
from ._hooks import HookMode, hook_mode
from ._kernel import CollectorTruce, SimEnvironment
from ._request_path import RequestPath
from ._scenario import Scenario
from ._stats import Bucket, Gauges, LatencyLog, close_bucket
from ._units import core_time
from ._workload import Session, SessionFactory, peer_id_of

_NONE = Event.NONE
_INF = float("inf")


class RunDatabase(NamedTuple):
    """The database's counters at the end of the run (before any stop sequence)."""

    calls_started: int
    calls_finished: int
    records_sent: int
    busy_seconds: float


class Simulation:
    """One run of a scenario. Call :meth:`run` once."""

    def __init__(self, scenario: Scenario,
                 on_progress: Callable[[float], None] | None = None,
                 progress_step: float | None = None) -> None:
        sc = self.scenario = scenario
        self.env = SimEnvironment()
        self.epoch = sc.start_epoch
        self.tracker = Tracker(sc.tracker, now=sc.start_epoch)
        self.books = Books()
        self.bucket = Bucket(0.0, 0)
        self.closing = False
        self.interrupted = False
        self.end_time = sc.duration
        self.clients = Clients(self)
        self.delivery = DeliveryPath(self)
        self.hook: HookMode = hook_mode(sc.hook_mode, self.clients, self.delivery)
        self.request_path = RequestPath(self, self.hook)
        self.clients.path = self.request_path
        self.clients.answers_at_once = self.hook.answers_at_once
        self.delivery.request_path = self.request_path
        self.series: list[dict[str, object]] = []
        self.latencies = LatencyLog()
        """Every answer latency of the run (run-wide percentiles)."""
        self.run_database = RunDatabase(0, 0, 0, 0.0)
        """Set when the run ends: the database counters without the stop sequence."""
        self.returned_records: list[DeltaRecord] = []
        """Records the core's stop handed back (policy ``return``)."""
        self._on_progress = on_progress
        self._progress_step = progress_step or max(min(300.0, sc.duration / 100), 1.0)

    # -- what the parts share --------------------------------------------------------

    @property
    def factory(self) -> SessionFactory:
        """The session factory (``created`` counts every session made)."""
        return self.clients.factory

    @property
    def db(self) -> Database:
        """The database model."""
        return self.delivery.db

    @property
    def announces_accounted(self) -> int:
        """Announces the core accounted during the run so far."""
        return self.books.accounted

    def tasks(self) -> int:
        """Announces at a lock or holding one, plus database calls."""
        return self.request_path.jobs + self.delivery.calls

    def note_tasks(self) -> None:
        """Record the number of tasks in the bucket's peak."""
        tasks = self.request_path.jobs + self.delivery.calls
        b = self.bucket
        b.peak_tasks = max(b.peak_tasks, tasks)

    # -- warm start --------------------------------------------------------------------

    def _prime(self, s: Session) -> None:
        """Warm start: the tracker learnt ``s``'s counters before time 0 (its
        previous announce); not an announce of the run, so not counted as one."""
        up, down, left = s.counters(0.0)
        s.outstanding += 1
        path = self.request_path
        res = path.core_announce(
            path.build_request(s.cred, s.info_hash, peer_id_of(s.serial), up, down, left,
                               _NONE), self.epoch)
        self.books.account(s, up, down, _NONE, res)
        self.books.accounted -= 1
        if res.flush is not None:  # delivered by the flusher once the run starts
            self.delivery.hand_over(res.flush)

    # -- sampling, progress, end -------------------------------------------------------

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
            t = min(r.time for r in tracker.buffered_records())
            oldest = t if oldest is None or t < oldest else oldest
        tasks = self.tasks()
        requests = self.hook.open_requests
        mem = self.scenario.memory
        memory = (mem.base_bytes + mem.record_bytes * m.entries
                  + mem.delta_bytes * m.pending_records + mem.task_bytes * tasks
                  + mem.request_bytes * requests)
        return Gauges(m.pending_records, m.buffered_records, m.entries, m.users, tasks,
                      requests, memory, None if oldest is None else float(now_i - oldest))

    def _close_bucket(self, t_end: float) -> None:
        row = close_bucket(self.bucket, t_end, self.gauges(), self.latencies)
        self.series.append(row)
        self.bucket = Bucket(t_end, self.tasks())

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
            if self.interrupted:
                self.env.stop_soon()
                return

    def interrupt(self) -> None:
        """Ask the run to stop at the next progress step (e.g. on Ctrl-C)."""
        self.interrupted = True

    def abort(self) -> None:
        """Stop as soon as the event being processed is done (e.g. on a second
        Ctrl-C); the run then ends like an interrupted one, books settled."""
        self.interrupted = True
        self.env.stopped = True

    def run(self) -> None:
        """Run the scenario to its end (or to an interruption), then settle.

        Python's cyclic collector is kept off the population while the run
        goes (:class:`~._kernel.CollectorTruce`) and left as it was found."""
        truce = CollectorTruce()
        truce.pause()
        try:
            self._run(truce.freeze_survivors)
        finally:
            truce.restore()

    def _run(self, after_setup: Callable[[], None]) -> None:
        env, work = self.env, self.scenario.workload
        self.clients.populate(self._prime if work.warm_start else None)
        after_setup()
        if work.arrival_rate > 0:
            env.process(self.clients.poisson_arrivals())
        if work.flash_crowd is not None:
            env.process(self.clients.flash_crowd())
        self.delivery.pump()
        env.process(garbage_collector(self))
        env.process(self._sampler())
        env.process(self._progress())
        env.call_later(self.end_time, self._reach_end)
        env.run_until_stopped()
        end = env.now
        self.end_time = end
        if self.bucket.t_start < end or not self.series:
            self._close_bucket(end)
        self.closing = True
        db, pool = self.delivery.db, self.delivery.pool
        self.run_database = RunDatabase(db.calls + pool.in_use(), db.calls, db.records_sent,
                                        pool.busy_seconds(end))
        if self.scenario.tracker_model.stop_at_end and not self.interrupted:
            self._shutdown()
        self._settle_the_rest(end)

    def _reach_end(self, _ev: SimEvent) -> None:
        self.env.stop_soon()

    def _settle_the_rest(self, end: float) -> None:
        """Settle every session whose books are still open: those with a
        wake-up planned, and those whose announce waits for a lock or holds
        one. No registry is kept during the run (it would cost memory per
        client); a session met twice is settled once (settling marks it)."""
        settle = self.books.settle
        for source in (self.clients.planned_sessions(), self.request_path.waiting_sessions()):
            for s in source:
                if s.wk != SETTLED:
                    settle(s, "unreported", min(end, s.t_end))

    def _shutdown(self) -> None:
        """The tracker's stop sequence: let deliveries finish, stop, deliver, close."""
        env, tracker, delivery = self.env, self.tracker, self.delivery
        while delivery.calls and env.peek() < _INF:
            env.step()
        delivery.deliver_all(tracker.stop(core_time(env.now, self.epoch)))
        while delivery.calls and env.peek() < _INF:
            env.step()
        report = tracker.close(core_time(env.now, self.epoch))
        self.returned_records = [r for b in report.returned for r in b.records]
        if self.bucket.handler_calls:
            # The stop's deliveries get a row of their own, after the run's end.
            self._close_bucket(env.now)
