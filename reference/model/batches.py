"""Buffers, batches and delivery (SPEC R2.3, R6.1 to R6.8): the model's steps.

Each function changes :class:`~.state.ModelState` in one small way and cites
the rule it implements. Buffers are plain lists, batches one flat list.
"""

from __future__ import annotations

from privtrak.reference import (
    Batch,
    DeltaRecord,
    FailedBatch,
    FlushPath,
    HandlerFailure,
    RecordKind,
    RejectCode,
    Seconds,
    UsageError,
    UserId,
    fnv1a_32,
)

from .state import BufferName, ModelState, SealedBatch, Tagged, deliver_serials


def shard_of(m: ModelState, user: UserId) -> int:
    """R2.3: a user's records go to shard ``fnv1a_32(user_id) % shard_count``."""
    return fnv1a_32(user) % m.config.shard_count


def buffer_of(m: ModelState, user: UserId) -> BufferName:
    """R6.8: under ``global`` every record goes to the one global buffer,
    under ``shard`` to its user's shard buffer (R2.3)."""
    return None if m.is_global else shard_of(m, user)


def pending_count(m: ModelState) -> int:
    """R6.7: pending records are buffered + waiting + in flight."""
    count = 0
    for name in m.buffers:
        count += len(m.buffers[name])
    for sb in m.batches:
        count += len(sb.items)
    return count


def append_record(m: ModelState, buffer: BufferName, record: DeltaRecord) -> None:
    """R3.3: a record is appended to its buffer; records keep their append
    order inside a buffer and a batch. R6.2: the buffer's age starts with
    its first record. R12: records are counted per kind."""
    if not m.buffers[buffer]:
        m.buffer_since[buffer] = record.time
    m.buffers[buffer].append(Tagged(m.next_serial, record))
    m.next_serial += 1
    m.records[record.kind.value] += 1
    if record.kind is RecordKind.TRANSFER:
        m.ledger["credited_up"] += record.up
        m.ledger["credited_down"] += record.down


def seal_when_filled(m: ModelState, buffer: BufferName, now: Seconds) -> None:
    """R6.1: off the announce path (R6.3 ``background``) a buffer is sealed
    into a batch the moment any record fills it to ``batch_size``."""
    if (m.config.policy.flush_path is FlushPath.BACKGROUND
            and len(m.buffers[buffer]) >= m.config.batch_size):
        seal_buffer(m, buffer, now)


def seal_buffer(m: ModelState, buffer: BufferName, now: Seconds) -> SealedBatch:
    """R6.1, R6.4: sealing takes the whole buffer and gives it the next batch
    id (ids start at 1 and increase by one per sealed batch) and
    ``sealed_at = now``."""
    sb = SealedBatch(m.next_batch_id, buffer, list(m.buffers[buffer]), now, not_before=now)
    m.next_batch_id += 1
    m.counters["batches_sealed"] += 1
    m.buffers[buffer] = []
    m.batches.append(sb)
    return sb


def seal_every_buffer(m: ModelState, now: Seconds) -> list[int]:
    """R6.2, R8: ``flush_on_gc``, ``stop`` and ``close`` seal every non-empty
    buffer in shard order, or the one global buffer (R6.8)."""
    ids = []
    for name in m.buffers:
        if m.buffers[name]:
            ids.append(seal_buffer(m, name, now).batch_id)
    return ids


def seal_aged_buffers(m: ModelState, now: Seconds) -> None:
    """R6.2: ``next_batch(now)`` first seals every buffer whose first record
    was appended at ``t`` with ``t + max_batch_age <= now`` (oldest first,
    ties in shard order)."""
    max_age = m.config.max_batch_age
    if max_age is None:
        return
    aged = [(m.buffer_since[name], -1 if name is None else name, name)
            for name in m.buffers if m.buffers[name]
            and m.buffer_since[name] + max_age <= now]
    aged.sort(key=lambda item: (item[0], item[1]))
    for _, _, name in aged:
        seal_buffer(m, name, now)


def waiting_by_id(m: ModelState) -> list[SealedBatch]:
    """R6.4: waiting batches (sealed, not in flight) in id order."""
    return sorted((sb for sb in m.batches if not sb.in_flight), key=lambda sb: sb.batch_id)


def hand_out(sb: SealedBatch) -> Batch:
    """R6.4: a handed-out batch is in flight; ``attempts`` counts how often."""
    sb.in_flight = True
    sb.attempts += 1
    return sb.as_batch()


def hand_out_next_due(m: ModelState, now: Seconds) -> Batch | None:
    """R6.4: ``next_batch`` hands out the waiting batch with the smallest id
    whose backoff has passed (``not_before <= now``), or ``None``."""
    for sb in waiting_by_id(m):
        if sb.not_before <= now:
            return hand_out(sb)
    return None


def size_trigger(m: ModelState, buffer: BufferName, now: Seconds) -> Batch | None:
    """R6.1, R6.3: after an accepted announce a buffer holding at least
    ``batch_size`` records is sealed; on the announce path the batch goes in
    flight at once and is returned in ``flush``, unless a batch of that
    buffer is already in flight (R6.8: any batch, under ``global``)."""
    if len(m.buffers[buffer]) < m.config.batch_size:
        return None
    if m.config.policy.flush_path is FlushPath.BACKGROUND:
        seal_buffer(m, buffer, now)
        return None
    for sb in m.batches:
        if sb.in_flight and sb.buffer == buffer:
            return None
    sb = seal_buffer(m, buffer, now)
    sb.on_path = True
    return hand_out(sb)


def find_in_flight(m: ModelState, batch_id: int) -> SealedBatch:
    """R6.4: an outcome for an id that is not in flight raises ``UsageError``."""
    for sb in m.batches:
        if sb.batch_id == batch_id and sb.in_flight:
            return sb
    raise UsageError(f"batch {batch_id} is not in flight")


def process_success(m: ModelState, sb: SealedBatch) -> None:
    """R6.4, R11: after success the batch leaves the tracker and its transfer
    bytes count as delivered (each record once)."""
    m.batches.remove(sb)
    deliver_serials(m, sb.items)
    for item in sb.items:
        if item.record.kind is RecordKind.TRANSFER:
            m.ledger["delivered_up"] += item.record.up
            m.ledger["delivered_down"] += item.record.down
    m.counters["batches_delivered"] += 1
    m.counters["records_delivered"] += len(sb.items)


def backoff(m: ModelState, attempts: int) -> int:
    """R6.5: ``min(retry_backoff_initial * 2**(attempts - 1), retry_backoff_max)``."""
    doubling = 1 << min(attempts - 1, 62)  # 2**(attempts - 1), bounded
    return min(m.config.retry_backoff_initial * doubling, m.config.retry_backoff_max)


def process_failure(m: ModelState, sb: SealedBatch, now: Seconds) -> None:
    """R6.5: a failed batch is kept whole and waits for its backoff
    (``retain``), or its records go back to the front of the buffer they came
    from, which is then as old as its first record (``merge``)."""
    m.counters["batches_failed"] += 1
    if m.config.policy.failed_batch is FailedBatch.MERGE:
        m.batches.remove(sb)
        m.buffers[sb.buffer] = sb.items + m.buffers[sb.buffer]
        m.buffer_since[sb.buffer] = sb.items[0].record.time
        return
    sb.in_flight = False
    sb.on_path = False
    sb.not_before = now + backoff(m, sb.attempts)


def fails_its_announce(m: ModelState, was_on_path: bool) -> bool:
    """R6.6: under ``fail_announce`` a failed delivery of a batch handed out
    on an announce's path fails that announce with ``handler_failed``
    (counted in ``rejected``); under ``announce_unaffected`` never."""
    fail = was_on_path and m.config.policy.handler_failure is HandlerFailure.FAIL_ANNOUNCE
    if fail:
        m.rejected[RejectCode.HANDLER_FAILED.value] += 1
    return fail


def make_in_flight_waiting(m: ModelState) -> list[int]:
    """R8.3: ``reoffer_in_flight()`` makes every in-flight batch waiting
    again, due at once; returns their ids in order."""
    ids = []
    for sb in sorted(m.batches, key=lambda sb: sb.batch_id):
        if sb.in_flight:
            sb.in_flight = False
            sb.on_path = False
            sb.not_before = m.now
            ids.append(sb.batch_id)
    return ids
