"""Delivery and shutdown: handing out batches, their outcomes, backoff,
deadlines, stop and close (SPEC.md R6.2 to R6.6, R8).

A mixin of :class:`~._tracker.Tracker` over :class:`~._tracker_base.TrackerBase`;
the buffers and batches themselves are the :class:`~._batching.Batcher`'s.
"""

from __future__ import annotations

from ._errors import UsageError
from ._policy import FailedBatch, HandlerFailure, StopEntries, StopUndelivered
from ._results import CloseReport, TrackerState
from ._tracker_base import TrackerBase, check_time
from ._types import Batch, RecordKind, RejectCode, Seconds

_TRANSFER = RecordKind.TRANSFER


class TrackerDelivery(TrackerBase):
    """Batches out of the tracker and shutdown (R6.2 to R6.6, R8); see the module docstring."""

    def next_batch(self, now: Seconds) -> Batch | None:
        """Hand out the next batch due for delivery, or ``None``.

        Seals buffers that reached ``max_batch_age`` first (R6.2). The batch
        with the smallest id whose backoff has passed goes in flight; report
        its outcome once. Raises :class:`UsageError` after :meth:`close`.
        """
        check_time(now, self._now)
        self._check_alive()
        if self._state is TrackerState.CLOSED:
            raise UsageError("next_batch() after close()")
        self._now = now
        max_age = self._config.max_batch_age
        if max_age is not None:
            self._batcher.seal_aged(now, max_age)
        batch_id = self._batcher.first_eligible(now)
        if batch_id is None:
            return None
        return self._batcher.take(batch_id).batch

    def batch_succeeded(self, batch_id: int, now: Seconds) -> None:
        """The handler persisted the batch: it leaves the tracker for good (R6.4)."""
        check_time(now, self._now)
        self._check_alive()
        pending = self._batcher.resolve(batch_id)
        self._now = now
        records = pending.batch.records
        lg = self._ledger
        for r in records:
            if r.kind is _TRANSFER:
                lg["delivered_up"] += r.up
                lg["delivered_down"] += r.down
        self._counts["batches_delivered"] += 1
        self._counts["records_delivered"] += len(records)

    def batch_failed(self, batch_id: int, now: Seconds) -> bool:
        """The handler reported an error for the batch (R6.5, R6.6).

        Under ``retain`` the identical batch waits ``retry_backoff_initial *
        2**(attempts-1)`` seconds (at most ``retry_backoff_max``) before it is
        offered again; under ``merge`` its records return to the front of the
        buffer they came from (the shard's, or the global one). Returns
        ``True`` when the announce that delivered it on its path must fail
        with ``handler_failed``.
        """
        check_time(now, self._now)
        self._check_alive()
        pending = self._batcher.resolve(batch_id)
        self._now = now
        self._counts["batches_failed"] += 1
        on_path = pending.on_path
        if self._config.policy.failed_batch is FailedBatch.MERGE:
            self._batcher.merge_back(pending)
        else:
            self._batcher.retain(pending, now + self._backoff(pending.attempts))
        fail = on_path and self._config.policy.handler_failure is HandlerFailure.FAIL_ANNOUNCE
        if fail:
            # The client sees a refused announce: count it with the core's refusals (R12).
            self._counts["reject." + RejectCode.HANDLER_FAILED] += 1
        return fail

    def _backoff(self, attempts: int) -> int:
        cfg = self._config
        return int(min(cfg.retry_backoff_initial * 2 ** min(attempts - 1, 62),
                       cfg.retry_backoff_max))

    def reoffer_in_flight(self) -> list[int]:
        """Make every in-flight batch waiting again, e.g. after a restore whose
        deliveries' outcomes are unknown. Returns their ids; a handler that
        deduplicates on batch id makes the redelivery safe."""
        ids = sorted(self._batcher.in_flight)
        for batch_id in ids:
            pending = self._batcher.resolve(batch_id)
            self._batcher.retain(pending, self._now)
        return ids

    def next_deadline(self) -> Seconds | None:
        """The earliest time at which something becomes due: a GC, an age
        seal, or a batch whose backoff ends. ``None`` when nothing is due."""
        if self._state in (TrackerState.CLOSED, TrackerState.CRASHED):
            return None
        candidates = [] if self._state is not TrackerState.OPEN else [self._next_gc_at]
        if self._config.max_batch_age is not None:
            age = self._batcher.next_age_deadline(self._config.max_batch_age)
            if age is not None:
                candidates.append(age)
        candidates.extend(p.not_before for p in self._batcher.waiting.values())
        return Seconds(min(candidates)) if candidates else None

    # -- stop -----------------------------------------------------------------

    def stop(self, now: Seconds) -> tuple[Batch, ...]:
        """Begin shutdown (R8): refuse further announces, seal every buffer and
        hand out every waiting batch, ignoring backoff. Deliver them, report
        each outcome, then call :meth:`close`."""
        check_time(now, self._now)
        self._check_alive()
        if self._state is not TrackerState.OPEN:
            raise UsageError(f"stop() called in state {self._state}")
        self._now = now
        self._state = TrackerState.STOPPING
        self._seal_all(now)
        if self._config.policy.stop_entries is StopEntries.FORGET:
            # R8.3 seed: Stop replaces every shard with an empty one.
            self._users.clear()
            self._corrupted.clear()
            self._caps.clear()
            self._entry_count = 0
        return tuple(self._batcher.take(bid).batch for bid in list(self._batcher.waiting))

    def close(self, now: Seconds) -> CloseReport:
        """Finish shutdown (R8.2). Every batch handed out must have its outcome
        reported first. What is still undelivered is returned (policy
        ``return``) or dropped and counted (``drop``, the seed)."""
        check_time(now, self._now)
        self._check_alive()
        if self._state is not TrackerState.STOPPING:
            raise UsageError(f"close() called in state {self._state}; call stop() first")
        if self._batcher.in_flight:
            raise UsageError(f"close() with batches {sorted(self._batcher.in_flight)} in "
                             "flight; report their outcomes first")
        self._now = now
        self._seal_all(now)
        leftovers = self._batcher.drop_waiting()
        drop = self._config.policy.stop_undelivered is StopUndelivered.DROP
        prefix = "dropped_" if drop else "returned_"
        for batch in leftovers:
            for r in batch.records:
                if r.kind is _TRANSFER:
                    self._ledger[prefix + "up"] += r.up
                    self._ledger[prefix + "down"] += r.down
        self._state = TrackerState.CLOSED
        if drop:
            return CloseReport((), sum(len(b.records) for b in leftovers))
        return CloseReport(tuple(leftovers), 0)

