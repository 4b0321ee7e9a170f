"""Buffers, sealed batches and their delivery life cycle (SPEC.md R6.1 to R6.8).

A record waits in a *buffer*: its shard's (batch scope ``shard``, the seed)
or the single tracker-wide one (batch scope ``global``). Sealing turns a
whole buffer into a :class:`Batch` with the next batch id. A sealed batch
is *waiting* (ready, or backing off after a failure) or *in flight* (handed
to the driver, outcome not yet reported). Success removes it. Failure
either puts the identical batch back to wait with exponential backoff
(``FailedBatch.RETAIN``) or returns its records to the front of the buffer
they came from so the next seal merges them with newer records under a new
id (``FailedBatch.MERGE``, the seed).

This module holds state and mechanics only; the rules about *when* to seal
and deliver live in the tracker (:mod:`._tracker`, :mod:`._delivery`).
:meth:`Batcher.export` and :meth:`Batcher.load` carry the whole state out and
back in as plain values (:class:`BatcherState`), for snapshots.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ._errors import UsageError
from ._policy import BatchScope
from ._types import Batch, DeltaRecord, Seconds


@dataclass(slots=True)
class Pending:
    """A sealed batch that is not delivered yet."""

    batch: Batch
    attempts: int
    not_before: int
    on_path: bool = False
    """True while it is being delivered on an announce's path (R6.3)."""


@dataclass(frozen=True, slots=True)
class BufferState:
    """One non-empty buffer as plain values."""

    shard: int | None
    """The label of its batches: the shard, or ``None`` for the global buffer."""
    first_record_at: int
    records: tuple[DeltaRecord, ...]


@dataclass(frozen=True, slots=True)
class BatcherState:
    """Everything a :class:`Batcher` holds, as plain values (copies)."""

    next_batch_id: int
    sealed_count: int
    buffers: tuple[BufferState, ...]
    """The non-empty buffers, in buffer order."""
    waiting: tuple[Pending, ...]
    """In delivery order (ascending id)."""
    in_flight: tuple[Pending, ...]
    """By ascending id."""


class Batcher:
    """The buffers plus the sealed batches; see the module docstring.

    Under ``BatchScope.SHARD`` there is one buffer per shard and a batch is
    labelled with its shard; under ``BatchScope.GLOBAL`` there is a single
    buffer for the whole tracker and its batches are labelled ``None``
    (SPEC.md R6.8). Methods take the shard a record belongs to and map it to
    its buffer themselves, so callers never depend on the scope.
    """

    def __init__(self, shard_count: int, scope: BatchScope = BatchScope.SHARD,
                 next_batch_id: int = 1) -> None:
        self.global_scope = scope is BatchScope.GLOBAL
        count = 1 if self.global_scope else shard_count
        self.buffers: list[list[DeltaRecord]] = [[] for _ in range(count)]
        """Indexed by buffer index (:meth:`buffer_index`)."""
        self.first_record_at: list[int] = [0] * count
        self.waiting: dict[int, Pending] = {}
        self.in_flight: dict[int, Pending] = {}
        self.next_batch_id = next_batch_id
        self.buffered_records = 0
        self.sealed_records = 0
        self.sealed_count = 0
        self._age_heap: list[tuple[int, int]] = []

    def export(self) -> BatcherState:
        """A copy of the whole state; changing it does not change the batcher."""
        def copy(p: Pending) -> Pending:
            return Pending(p.batch, p.attempts, p.not_before, p.on_path)

        return BatcherState(
            next_batch_id=self.next_batch_id,
            sealed_count=self.sealed_count,
            buffers=tuple(BufferState(self.label(index), self.first_record_at[index], tuple(buf))
                          for index, buf in enumerate(self.buffers) if buf),
            waiting=tuple(copy(p) for p in self.waiting.values()),
            in_flight=tuple(copy(p) for _, p in sorted(self.in_flight.items())),
        )

    def load(self, state: BatcherState) -> None:
        """Take over an exported state; this batcher must be new (nothing sealed yet).

        Raises :class:`UsageError`, changing nothing, if the state breaks the
        batcher's own invariants: a buffer label that does not fit the scope,
        a buffer listed twice or empty, a batch id listed twice or not below
        ``next_batch_id``, waiting batches out of id order.
        """
        if self.sealed_count or self.next_batch_id != 1 or self.pending_records:
            raise UsageError("Batcher.load() needs a new batcher")
        buffers: dict[int, BufferState] = {}
        for buf in state.buffers:
            if not buf.records:
                raise UsageError(f"buffer {buf.shard!r} is empty; empty buffers are not listed")
            if not self.global_scope and (buf.shard is None or
                                          not 0 <= buf.shard < len(self.buffers)):
                raise UsageError(f"buffer {buf.shard!r} is not a shard of this batcher")
            index = self.buffer_index(buf.shard)
            if index in buffers:
                raise UsageError(f"buffer {buf.shard!r} is listed twice")
            buffers[index] = buf
        ids = [p.batch.batch_id for p in (*state.waiting, *state.in_flight)]
        if len(set(ids)) != len(ids):
            raise UsageError(f"batch ids {sorted(ids)} repeat")
        if ids and max(ids) >= state.next_batch_id:
            raise UsageError(f"batch {max(ids)} is not below next_batch_id "
                             f"({state.next_batch_id})")
        waiting_ids = [p.batch.batch_id for p in state.waiting]
        if waiting_ids != sorted(waiting_ids):
            raise UsageError(f"waiting batches {waiting_ids} are not in id order")
        self.next_batch_id = state.next_batch_id
        self.sealed_count = state.sealed_count
        for index, buf in buffers.items():
            self.buffers[index] = list(buf.records)
            self.first_record_at[index] = buf.first_record_at
            self.buffered_records += len(buf.records)
            heapq.heappush(self._age_heap, (buf.first_record_at, index))
        for target, listed in ((self.waiting, state.waiting), (self.in_flight, state.in_flight)):
            for p in listed:
                target[p.batch.batch_id] = Pending(p.batch, p.attempts, p.not_before, p.on_path)
                self.sealed_records += len(p.batch.records)

    def drop_waiting(self) -> list[Batch]:
        """Remove every waiting batch and return them in delivery order."""
        batches = [p.batch for p in self.waiting.values()]
        self.waiting.clear()
        self.sealed_records -= sum(len(b.records) for b in batches)
        return batches

    def buffer_index(self, shard: int | None) -> int:
        """The index in :attr:`buffers` of the buffer that takes ``shard``'s records.

        ``None`` names the global buffer and is valid only under the global scope.
        """
        if self.global_scope:
            return 0
        if shard is None:
            raise UsageError("shard None names the global buffer, which exists only "
                             "under batch_scope=global")
        return shard

    def label(self, index: int) -> int | None:
        """The ``Batch.shard`` of batches sealed from buffer ``index``."""
        return None if self.global_scope else index

    def buffer_of(self, shard: int | None) -> list[DeltaRecord]:
        """The buffer (live list, do not modify) that takes ``shard``'s records."""
        return self.buffers[self.buffer_index(shard)]

    @property
    def pending_records(self) -> int:
        """Records buffered, waiting or in flight."""
        return self.buffered_records + self.sealed_records

    def append(self, shard: int | None, record: DeltaRecord, now: int) -> int:
        """Append ``record`` to the buffer of ``shard``; return that buffer's length."""
        # buffer_index() inlined: this runs once per record.
        index = 0 if self.global_scope else shard
        if index is None:
            index = self.buffer_index(None)
        buf = self.buffers[index]
        if not buf:
            self.first_record_at[index] = now
            heapq.heappush(self._age_heap, (now, index))
        buf.append(record)
        self.buffered_records += 1
        return len(buf)

    def seal(self, shard: int | None, now: Seconds, on_path: bool = False) -> Pending:
        """Turn the whole buffer of ``shard`` into a new batch that waits to be taken."""
        return self._seal_index(self.buffer_index(shard), now, on_path)

    def seal_all(self, now: Seconds) -> list[int]:
        """Seal every non-empty buffer in buffer order; return the new batch ids."""
        return [self._seal_index(index, now, False).batch.batch_id
                for index, buf in enumerate(self.buffers) if buf]

    def _seal_index(self, index: int, now: Seconds, on_path: bool) -> Pending:
        records = tuple(self.buffers[index])
        if not records:
            label = "the global buffer" if self.global_scope else f"shard {index}"
            raise UsageError(f"{label} has nothing to seal")
        self.buffers[index] = []
        self.buffered_records -= len(records)
        self.sealed_records += len(records)
        batch = Batch(self.next_batch_id, self.label(index), records, now)
        self.next_batch_id += 1
        self.sealed_count += 1
        pending = Pending(batch, attempts=0, not_before=now, on_path=on_path)
        self.waiting[batch.batch_id] = pending
        return pending

    def seal_aged(self, now: Seconds, max_age: int) -> list[int]:
        """Seal every buffer whose first record is ``max_age`` seconds old or older."""
        sealed: list[int] = []
        heap = self._age_heap
        while heap and heap[0][0] + max_age <= now:
            since, index = heapq.heappop(heap)
            # Stale heap items are skipped: the buffer was sealed meanwhile.
            if self.buffers[index] and self.first_record_at[index] == since:
                sealed.append(self._seal_index(index, now, False).batch.batch_id)
        return sealed

    def next_age_deadline(self, max_age: int) -> int | None:
        """When the oldest buffered record reaches ``max_age``; ``None`` if none."""
        heap = self._age_heap
        while heap:
            since, index = heap[0]
            if self.buffers[index] and self.first_record_at[index] == since:
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
        """Return a failed batch's records to the front of the buffer it came from."""
        index = self.buffer_index(pending.batch.shard)
        # The merged buffer is as old as its oldest record, the failed batch's first.
        oldest = pending.batch.records[0].time
        self.first_record_at[index] = oldest
        heapq.heappush(self._age_heap, (oldest, index))
        self.buffers[index] = list(pending.batch.records) + self.buffers[index]
        self.buffered_records += len(pending.batch.records)

    def buffer_in_flight(self, shard: int | None) -> bool:
        """Whether a batch sealed from the buffer of ``shard`` is in flight.

        Under the global scope every batch comes from the one buffer, so this
        is whether any batch is in flight (SPEC.md R6.8).
        """
        label = self.label(self.buffer_index(shard))
        return any(p.batch.shard == label for p in self.in_flight.values())
