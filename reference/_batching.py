"""Shard buffers, sealed batches and their delivery life cycle (SPEC.md R6.1 to R6.7).

A record waits in its shard's *buffer*. Sealing turns a whole buffer into a
:class:`Batch` with the next batch id. A sealed batch is *waiting* (ready, or
backing off after a failure) or *in flight* (handed to the driver, outcome
not yet reported). Success removes it. Failure either puts the identical
batch back to wait with exponential backoff (``FailedBatch.RETAIN``) or
returns its records to the front of the shard buffer so the next seal merges
them with newer records under a new id (``FailedBatch.MERGE``, the seed).

This module holds state and mechanics only; the rules about *when* to seal
and deliver live in :mod:`._tracker`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ._errors import UsageError
from ._types import Batch, DeltaRecord


@dataclass(slots=True)
class Pending:
    """A sealed batch that is not delivered yet."""

    batch: Batch
    attempts: int
    not_before: int
    on_path: bool = False
    """True while it is being delivered on an announce's path (R6.3)."""


class Batcher:
    """Buffers per shard plus the sealed batches; see the module docstring."""

    def __init__(self, shard_count: int, next_batch_id: int = 1) -> None:
        self.buffers: list[list[DeltaRecord]] = [[] for _ in range(shard_count)]
        self.first_record_at: list[int] = [0] * shard_count
        self.waiting: dict[int, Pending] = {}
        self.in_flight: dict[int, Pending] = {}
        self.next_batch_id = next_batch_id
        self.buffered_records = 0
        self.sealed_records = 0
        self.sealed_count = 0
        self._age_heap: list[tuple[int, int]] = []

    @property
    def pending_records(self) -> int:
        """Records buffered, waiting or in flight."""
        return self.buffered_records + self.sealed_records

    def append(self, shard: int, record: DeltaRecord, now: int) -> int:
        """Append ``record`` to ``shard``'s buffer; return the buffer length."""
        buf = self.buffers[shard]
        if not buf:
            self.first_record_at[shard] = now
            heapq.heappush(self._age_heap, (now, shard))
        buf.append(record)
        self.buffered_records += 1
        return len(buf)

    def seal(self, shard: int, now: int, on_path: bool = False) -> Pending:
        """Turn ``shard``'s whole buffer into a new batch that waits to be taken."""
        records = tuple(self.buffers[shard])
        if not records:
            raise UsageError(f"shard {shard} has nothing to seal")
        self.buffers[shard] = []
        self.buffered_records -= len(records)
        self.sealed_records += len(records)
        batch = Batch(self.next_batch_id, shard, records, now)
        self.next_batch_id += 1
        self.sealed_count += 1
        pending = Pending(batch, attempts=0, not_before=now, on_path=on_path)
        self.waiting[batch.batch_id] = pending
        return pending

    def seal_aged(self, now: int, max_age: int) -> list[int]:
        """Seal every buffer whose first record is ``max_age`` seconds old or older."""
        sealed: list[int] = []
        heap = self._age_heap
        while heap and heap[0][0] + max_age <= now:
            since, shard = heapq.heappop(heap)
            # Stale heap items are skipped: the buffer was sealed meanwhile.
            if self.buffers[shard] and self.first_record_at[shard] == since:
                sealed.append(self.seal(shard, now).batch.batch_id)
        return sealed

    def next_age_deadline(self, max_age: int) -> int | None:
        """When the oldest buffered record reaches ``max_age``; ``None`` if none."""
        heap = self._age_heap
        while heap:
            since, shard = heap[0]
            if self.buffers[shard] and self.first_record_at[shard] == since:
                return since + max_age
            heapq.heappop(heap)
        return None

    def take(self, batch_id: int) -> Pending:
        """Move a waiting batch in flight and count the attempt."""
        pending = self.waiting.pop(batch_id)
        pending.attempts += 1
        self.in_flight[batch_id] = pending
        return pending

    def first_eligible(self, now: int) -> int | None:
        """Smallest waiting batch id whose backoff has passed."""
        for batch_id, pending in self.waiting.items():
            if pending.not_before <= now:
                return batch_id
        return None

    def resolve(self, batch_id: int) -> Pending:
        """Remove an in-flight batch; raises :class:`UsageError` if it is not in flight."""
        pending = self.in_flight.pop(batch_id, None)
        if pending is None:
            raise UsageError(f"batch {batch_id} is not in flight; outcomes are reported "
                             "once, for batches handed out by the tracker")
        self.sealed_records -= len(pending.batch.records)
        return pending

    def retain(self, pending: Pending, not_before: int) -> None:
        """Put a failed batch back to wait, identical, until ``not_before``."""
        pending.not_before = not_before
        pending.on_path = False
        self.sealed_records += len(pending.batch.records)
        self.waiting[pending.batch.batch_id] = pending
        # Keep ids ascending so delivery order is deterministic (R6.5).
        self.waiting = dict(sorted(self.waiting.items()))

    def merge_back(self, pending: Pending) -> None:
        """Return a failed batch's records to the front of its shard buffer."""
        shard = pending.batch.shard
        # The merged buffer is as old as its oldest record, the failed batch's first.
        oldest = pending.batch.records[0].time
        self.first_record_at[shard] = oldest
        heapq.heappush(self._age_heap, (oldest, shard))
        self.buffers[shard] = list(pending.batch.records) + self.buffers[shard]
        self.buffered_records += len(pending.batch.records)

    def shard_in_flight(self, shard: int) -> bool:
        """Whether a batch of ``shard`` is in flight."""
        return any(p.batch.shard == shard for p in self.in_flight.values())
