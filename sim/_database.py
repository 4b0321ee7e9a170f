"""The DeltaHandler as a database model.

* ``connections`` P: a call waits (FIFO) for a free connection and holds it
  for its latency (the delivery path's :class:`~._resources.ConnectionPool`).
* Latency of a call on ``n`` records: ``(base + per_record * n) * jitter``.
* Outcomes: a call that starts inside an outage window fails after
  ``outage_fail_after`` seconds without committing. Otherwise it fails
  (nothing committed) with ``failure_probability``, commits but reports an
  error (a lost acknowledgement) with ``failure_after_commit_probability``,
  and succeeds otherwise.
* The database applies what it commits: it adds every record's bytes. With
  ``dedup_batches`` it remembers committed batch ids and skips a batch it has
  already applied (the identical retry the recommended preset makes).

To keep the final accounting exact the model also remembers, by identity,
the records it applied whose delivery the tracker still counts as pending
(``unacked``): applying one of them again is a duplicate.
"""

from __future__ import annotations

import random
from enum import Enum

from privtrak.reference import Batch, DeltaRecord

from ._scenario import DatabaseModel


class CallOutcome(Enum):
    """What one handler call did."""

    OK = "ok"
    FAILED = "failed"
    COMMITTED_BUT_FAILED = "committed_but_failed"


class Database:
    """State and draws of the database model; the delivery path runs the calls."""

    def __init__(self, model: DatabaseModel, seed: int) -> None:
        self.model = model
        self._latency_rng = random.Random(f"privtrak.sim:{seed}:db_latency")
        self._jitter = model.jitter.sampler(self._latency_rng)
        self._fail_rng = random.Random(f"privtrak.sim:{seed}:failures")
        self.credited_up = 0
        self.credited_down = 0
        self.duplicated_up = 0
        self.duplicated_down = 0
        self.calls = 0
        self.failures = 0
        self.records_sent = 0
        """Records carried by the calls started so far (failed ones included)."""
        self.skipped_batches = 0
        self._applied_ids: set[int] = set()
        self.unacked: dict[int, DeltaRecord] = {}

    def in_outage(self, t: float) -> bool:
        """Whether simulated time ``t`` falls in an outage window."""
        outages = self.model.outages
        return bool(outages) and any(o.start <= t < o.start + o.duration for o in outages)

    def plan_call(self, batch: Batch, t: float) -> tuple[float, CallOutcome]:
        """The latency and outcome of a call starting at ``t`` on a connection."""
        m = self.model
        self.records_sent += len(batch.records)
        if m.outages and self.in_outage(t):
            return m.outage_fail_after, CallOutcome.FAILED
        latency = (m.base_latency + m.per_record_latency * len(batch.records)) * self._jitter()
        if m.failure_probability or m.failure_after_commit_probability:
            u = self._fail_rng.random()
            if u < m.failure_probability:
                return latency, CallOutcome.FAILED
            if u < m.failure_probability + m.failure_after_commit_probability:
                return latency, CallOutcome.COMMITTED_BUT_FAILED
        return latency, CallOutcome.OK

    def commit(self, batch: Batch, outcome: CallOutcome) -> None:
        """Apply ``batch`` at the end of a call with ``outcome`` (after the latency)."""
        self.calls += 1
        if outcome is CallOutcome.FAILED:
            self.failures += 1
            return
        if self.model.dedup_batches and batch.batch_id in self._applied_ids:
            self.skipped_batches += 1
        else:
            self._apply(batch)
        if outcome is CallOutcome.OK:
            if self.unacked:
                for r in batch.records:
                    self.unacked.pop(id(r), None)
        else:
            self.failures += 1
            for r in batch.records:
                self.unacked[id(r)] = r

    def _apply(self, batch: Batch) -> None:
        # Ids are only ever read to deduplicate; keeping them otherwise grows
        # memory by one int per batch for the whole run.
        if self.model.dedup_batches:
            self._applied_ids.add(batch.batch_id)
        up = down = 0
        for r in batch.records:
            up += r.up
            down += r.down
        self.credited_up += up
        self.credited_down += down
        if self.unacked:
            for r in batch.records:
                if id(r) in self.unacked:
                    self.duplicated_up += r.up
                    self.duplicated_down += r.down

    def unacked_bytes(self, records: list[DeltaRecord] | None = None) -> tuple[int, int]:
        """Bytes applied but still pending in the tracker, over ``records``
        (default: all of them)."""
        up = down = 0
        if records is None:
            for r in self.unacked.values():
                up += r.up
                down += r.down
            return up, down
        for r in records:
            if id(r) in self.unacked:
                up += r.up
                down += r.down
        return up, down
