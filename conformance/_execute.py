"""The executor: runs conformance steps against the reference and observes them.

This is the single source of truth for what a step means. The vector
generator records its observations as expectations, the reference adapter
answers the runner with them, and the differential fuzzer runs it in
lock-step with the implementation under test.

Semantics of each step (the vector format document has the wire form):

* ``handler``: append outcomes to the scripted handler queue. Each delivery
  consumes one; an empty queue means ``ok``. ``ok`` reports success to the
  tracker; ``fail`` and ``fail_after_commit`` report failure (the latter is a
  handler that stored the batch and lost the acknowledgement: to the tracker
  it is an ordinary failure).
* ``announce``: :meth:`Tracker.announce`; a batch flushed on the announce path
  is delivered within the step. If that delivery fails and the policy fails
  the announce, the answer is ``rejected`` / ``handler_failed`` while the
  outcome and record keep the accounting (the seed accounts first).
* ``deliver``: take every due batch (:meth:`Tracker.next_batch`) and deliver
  it, until none is due.
* ``take``: take the next due batch and hand it to a slow handler: it stays in
  flight; ``report`` later reports the outcome of the ``taken``-th batch still
  outstanding (in take order). ``stop`` first reports every outstanding batch
  as failed, in take order (the driver gives up on the slow handler).
* ``gc``: :meth:`Tracker.collect_garbage`; it seals but never delivers.
* ``stop``: :meth:`Tracker.stop`, deliver every batch it hands out, then
  :meth:`Tracker.close`.
* ``snapshot_restore``: snapshot, round-trip through JSON text, restore.
* ``state``: users, baselines (with the completed flag), pending records,
  the ledger and ``next_deadline``.

Where the reference stops modelling the seed (R7.3 ``abort``: after a GC
panic the process is dead; after an announce-path panic the panicking user's
list is corrupted), a step that would go on from there raises
:class:`BeyondModel`: a case ends before it.

Steps must not go back in time; after ``stop`` only ``announce`` (answered
``closing``), ``state``, ``handler`` and ``snapshot_restore`` are allowed.
A step that breaks these rules raises :class:`ExecutionError` and changes
nothing.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Protocol

from privtrak.reference import (
    AnnounceRequest,
    AnnounceResult,
    Batch,
    Cause,
    CloseReport,
    Config,
    EntryView,
    GcResult,
    Ledger,
    Metrics,
    Outcome,
    PasskeyIdentifier,
    RejectCode,
    Seconds,
    Tracker,
    TrackerState,
    Unmodelled,
    UserId,
    restore,
    snapshot,
)

from ._steps import (
    AnnounceObservation,
    AnnounceStep,
    DeliverObservation,
    DeliverStep,
    Delivery,
    EmptyObservation,
    GcObservation,
    GcStep,
    HandlerOutcome,
    HandlerStep,
    LedgerSummary,
    Observation,
    ReportStep,
    SnapshotRestoreStep,
    StateEntry,
    StateObservation,
    StateStep,
    Status,
    Step,
    StopObservation,
    StopStep,
    TakeObservation,
    TakeStep,
    TimedStep,
)
from ._vectors import Case


class ExecutionError(ValueError):
    """A step cannot be executed (time went backwards, an op after stop).

    Nothing was changed; the step is invalid, not the implementation.
    """


class BeyondModel(Exception):
    """The step would continue from a state the reference does not model (the
    seed after an expiry panic, R7.3): a case or trace ends before it."""


class Accounting(Protocol):
    """The driver API an execution drives: :class:`Tracker`, or the normative
    model :class:`privtrak.reference.model.Model` (``privtrak adapter --model``)."""

    @property
    def state(self) -> TrackerState:
        """The life-cycle state."""
        ...

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        """R3.1."""
        ...

    def next_batch(self, now: Seconds) -> Batch | None:
        """R6.4."""
        ...

    def batch_succeeded(self, batch_id: int, now: Seconds) -> None:
        """R6.4."""
        ...

    def batch_failed(self, batch_id: int, now: Seconds) -> bool:
        """R6.5."""
        ...

    def collect_garbage(self, now: Seconds) -> GcResult:
        """R7."""
        ...

    def stop(self, now: Seconds) -> tuple[Batch, ...]:
        """R8."""
        ...

    def close(self, now: Seconds) -> CloseReport:
        """R8.2."""
        ...

    def entries(self) -> list[EntryView]:
        """R2.2."""
        ...

    def next_deadline(self) -> Seconds | None:
        """R6.2."""
        ...

    def ledger(self) -> Ledger:
        """R11."""
        ...

    def metrics(self) -> Metrics:
        """R12."""
        ...


class Execution:
    """One fresh reference tracker driven step by step.

    ``Execution(config, start, allow_list)`` creates the tracker with a
    :class:`PasskeyIdentifier` (restricted to ``allow_list`` unless it is
    ``None``, R1.2) at time ``start``; :meth:`apply` runs one step and
    returns its observation. Subclasses may override :meth:`make_tracker`
    and :meth:`restore_tracker` (e.g. to build deliberately broken variants),
    or :meth:`make_tracker` and :meth:`save_and_restore` to drive another
    implementation of :class:`Accounting` (the normative model).
    """

    def __init__(self, config: Config, start: int = 0,
                 allow_list: frozenset[UserId] | None = None) -> None:
        if type(start) is not int or start < 0:
            raise ExecutionError(f"start must be a non-negative integer, got {start!r}")
        self.config = config
        self.now = start
        self.allow_list = allow_list
        self.queue: deque[HandlerOutcome] = deque()
        self.taken: list[int] = []
        """Ids of batches taken and not reported yet, in take order."""
        self.tracker: Accounting = self.make_tracker(config, Seconds(start))

    def identifier(self) -> PasskeyIdentifier:
        """The identifier of the case: passkeys, restricted to the allow-list if any."""
        return PasskeyIdentifier(self.allow_list)

    def make_tracker(self, config: Config, start: Seconds) -> Accounting:
        """The tracker a case starts with."""
        return Tracker(config, self.identifier(), now=start)

    def restore_tracker(self, doc: dict[str, Any]) -> Tracker:
        """The tracker rebuilt from a snapshot document (already JSON round-tripped)."""
        return restore(doc, self.identifier())

    def save_and_restore(self) -> None:
        """The ``snapshot_restore`` step: snapshot, round-trip through JSON
        text, and replace the tracker with one restored from it (R8.3)."""
        if not isinstance(self.tracker, Tracker):
            raise ExecutionError(f"{type(self.tracker).__name__} has no snapshot of its own; "
                                 "override save_and_restore")
        text = json.dumps(snapshot(self.tracker), sort_keys=True)
        self.tracker = self.restore_tracker(json.loads(text))

    @property
    def stopped(self) -> bool:
        """Whether a ``stop`` step has run."""
        return self.tracker.state in (TrackerState.STOPPING, TrackerState.CLOSED)

    def apply(self, step: Step) -> Observation:
        """Run one step; raises :class:`ExecutionError` for an invalid step and
        :class:`BeyondModel` where the reference stops modelling the seed."""
        if isinstance(step, HandlerStep):
            self.queue.extend(step.outcomes)
            return EmptyObservation()
        if step.now < self.now:
            raise ExecutionError(f"now went backwards: {step.now} < {self.now}")
        if self.tracker.state is TrackerState.CRASHED:
            raise BeyondModel("the seed's process died in a GC panic (R7.3 abort); nothing "
                              "after it is modelled")
        if self.stopped and isinstance(step, DeliverStep | TakeStep | GcStep | StopStep):
            raise ExecutionError(f"{step.op} after stop: only announce, state, handler, "
                                 "report and snapshot_restore may follow a stop")
        if isinstance(step, ReportStep) and not 0 <= step.taken < len(self.taken):
            raise ExecutionError(f"report of taken batch {step.taken}: {len(self.taken)} "
                                 "taken batch(es) are outstanding")
        try:
            observation = self._apply(step, Seconds(step.now))
        except Unmodelled as exc:
            raise BeyondModel(str(exc)) from None
        self.now = step.now
        return observation

    def _apply(self, step: TimedStep, now: Seconds) -> Observation:
        if isinstance(step, AnnounceStep):
            return self._announce(step, now)
        if isinstance(step, DeliverStep):
            return DeliverObservation(self._deliver_due(now))
        if isinstance(step, TakeStep):
            batch = self.tracker.next_batch(now)
            if batch is not None:
                self.taken.append(batch.batch_id)
            return TakeObservation(batch)
        if isinstance(step, ReportStep):
            batch_id = self.taken.pop(step.taken)
            if step.outcome is HandlerOutcome.OK:
                self.tracker.batch_succeeded(batch_id, now)
            else:
                self.tracker.batch_failed(batch_id, now)
            return EmptyObservation()
        if isinstance(step, GcStep):
            gc = self.tracker.collect_garbage(now)
            if gc.order_dependent:
                return GcObservation(None, None, gc.seed_would_panic)
            return GcObservation(gc.removed_entries, gc.removed_users, gc.seed_would_panic)
        if isinstance(step, StopStep):
            return self._stop(now)
        if isinstance(step, SnapshotRestoreStep):
            self.save_and_restore()
            return EmptyObservation()
        assert isinstance(step, StateStep)
        return self._state()

    def _deliver(self, batch: Batch, now: Seconds) -> tuple[Delivery, bool]:
        """Hand ``batch`` to the scripted handler; returns the delivery and
        whether the announce that flushed it must fail."""
        outcome = self.queue.popleft() if self.queue else HandlerOutcome.OK
        if outcome is HandlerOutcome.OK:
            self.tracker.batch_succeeded(batch.batch_id, now)
            return Delivery(batch, outcome), False
        return Delivery(batch, outcome), self.tracker.batch_failed(batch.batch_id, now)

    def _announce(self, step: AnnounceStep, now: Seconds) -> AnnounceObservation:
        result = self.tracker.announce(step.request, now)
        if result.outcome is Outcome.REJECTED:
            return AnnounceObservation(Status.REJECTED, result.reject, result.outcome, None, (),
                                       False)
        deliveries: tuple[Delivery, ...] = ()
        failed = False
        if result.flush is not None:
            delivery, failed = self._deliver(result.flush, now)
            deliveries = (delivery,)
        return AnnounceObservation(
            Status.REJECTED if failed else Status.OK,
            RejectCode.HANDLER_FAILED if failed else None,
            result.outcome, result.record, deliveries, result.seed_would_panic)

    def _deliver_due(self, now: Seconds) -> tuple[Delivery, ...]:
        # Terminates: every pass either removes a batch for good or consumes
        # one scripted failure, and the script is finite.
        out = []
        while (batch := self.tracker.next_batch(now)) is not None:
            out.append(self._deliver(batch, now)[0])
        return tuple(out)

    def _stop(self, now: Seconds) -> StopObservation:
        for batch_id in self.taken:
            self.tracker.batch_failed(batch_id, now)
        self.taken.clear()
        handed_out = self.tracker.stop(now)
        deliveries = tuple(self._deliver(b, now)[0] for b in handed_out)
        report = self.tracker.close(now)
        return StopObservation(deliveries, report.returned, report.dropped_records)

    def _state(self) -> StateObservation:
        t = self.tracker
        metrics = t.metrics()
        lg = t.ledger()
        entries = tuple(StateEntry(e.user, e.info_hash, e.peer_id, e.uploaded, e.downloaded,
                                   e.last_seen, e.completed) for e in t.entries())
        att = lg.attributed
        base, reset, gap = (att.get(c, (0, 0)) for c in (Cause.BASELINE, Cause.RESET,
                                                         Cause.PURGE_GAP))
        ledger = LedgerSummary(lg.credited_up, lg.credited_down, lg.delivered_up,
                               lg.delivered_down, lg.dropped_up, lg.dropped_down,
                               lg.returned_up, lg.returned_down, lg.pending_up, lg.pending_down,
                               *base, *reset, *gap)
        return StateObservation(metrics.users, entries, metrics.pending_records, ledger,
                                t.next_deadline())


def run_steps(config: Config, start: int, steps: list[Step] | tuple[Step, ...],
              allow_list: frozenset[UserId] | None = None) -> list[Observation]:
    """Run ``steps`` on a fresh reference; one observation per step.

    Raises :class:`ExecutionError` naming the step index of an invalid step.
    """
    execution = Execution(config, start, allow_list)
    out = []
    for index, step in enumerate(steps):
        try:
            out.append(execution.apply(step))
        except ExecutionError as exc:
            raise ExecutionError(f"step {index} ({step.op}): {exc}") from None
    return out


def run_case(case: Case) -> list[Observation]:
    """The reference's observations for every step of ``case``."""
    try:
        return run_steps(case.config, case.start, [s.step for s in case.steps],
                         case.allow_list)
    except ExecutionError as exc:
        raise ExecutionError(f"case {case.id!r}: {exc}") from None
