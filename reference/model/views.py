"""What a driver can observe (SPEC R2.2, R6.2, R6.8, R11, R12), computed from
the model's flat state by plain loops."""

from __future__ import annotations

from privtrak.reference import (
    BaselineKey,
    Batch,
    ByteCount,
    DeltaRecord,
    EntryView,
    InfoHash,
    Ledger,
    Metrics,
    PeerId,
    RecordKind,
    Seconds,
    TrackerState,
    UsageError,
    UserId,
)

from .batches import pending_count, shard_of, waiting_by_id
from .state import ModelState, Tagged, entry_count, users_of


def entries(m: ModelState) -> list[EntryView]:
    """R2.2: every entry, sorted by (user, infohash, peer id); R7.3: a
    corrupted list shows as Go holds it, duplicates included."""
    items = list(m.stored.items())
    for listed in m.corrupted.values():
        items.extend(listed)
    views = [EntryView(k[0], k[1], k[2], ByteCount(s.up), ByteCount(s.down),
                       Seconds(s.last_seen), s.completed)
             for k, s in items]
    views.sort(key=lambda v: (v.user, v.info_hash, v.peer_id or b""))
    return views


def entry(m: ModelState, user: UserId, info_hash: InfoHash,
          peer_id: PeerId | None = None) -> EntryView | None:
    """R2.2: one entry by key; ``peer_id`` is required under
    ``user_torrent_peer`` and ignored under ``user_torrent``."""
    by_peer = m.config.policy.baseline_key is BaselineKey.USER_TORRENT_PEER
    if by_peer and peer_id is None:
        raise UsageError("entry(): peer_id is required under user_torrent_peer keying")
    for view in entries(m):
        if (view.user, view.info_hash, view.peer_id) == (
                user, info_hash, peer_id if by_peer else None):
            return view
    return None


def buffered_records(m: ModelState, shard: int | None = None) -> tuple[DeltaRecord, ...]:
    """R6.8: every buffered record (``None``), or one shard's records in buffer
    order (under ``global`` filtered from the global buffer)."""
    if shard is None:
        return tuple(t.record for name in m.buffers for t in m.buffers[name])
    if not 0 <= shard < m.config.shard_count:
        raise UsageError(f"shard {shard} is not within 0..{m.config.shard_count - 1}")
    if m.is_global:
        return tuple(t.record for t in m.buffers[None] if shard_of(m, t.record.user) == shard)
    return tuple(t.record for t in m.buffers[shard])


def waiting_batches(m: ModelState) -> list[Batch]:
    """R6.4: sealed batches neither delivered nor in flight, by id."""
    return [sb.as_batch() for sb in waiting_by_id(m)]


def in_flight_batches(m: ModelState) -> list[Batch]:
    """R6.4: batches handed out whose outcome is not reported yet, by id."""
    return [sb.as_batch() for sb in sorted(m.batches, key=lambda sb: sb.batch_id)
            if sb.in_flight]


def attempts(m: ModelState, batch_id: int) -> int:
    """R6.5: how often a pending batch has been handed out."""
    for sb in m.batches:
        if sb.batch_id == batch_id:
            return sb.attempts
    raise UsageError(f"batch {batch_id} is not pending")


def next_deadline(m: ModelState) -> Seconds | None:
    """R6.2, R7, R6.5: the earliest of the next GC (while open), the next age
    seal and the next backoff end; ``None`` when nothing is due or after
    close (or the seed's crash, R7.3)."""
    if m.state in (TrackerState.CLOSED, TrackerState.CRASHED):
        return None
    times = [m.next_gc_at] if m.state is TrackerState.OPEN else []
    if m.config.max_batch_age is not None:
        for name in m.buffers:
            if m.buffers[name]:
                times.append(m.buffer_since[name] + m.config.max_batch_age)
    for sb in m.batches:
        if not sb.in_flight:
            times.append(sb.not_before)
    return Seconds(min(times)) if times else None


def all_pending(m: ModelState) -> list[Tagged]:
    """R6.7: the pending records: buffered, waiting and in flight."""
    items: list[Tagged] = []
    for name in m.buffers:
        items.extend(m.buffers[name])
    for sb in m.batches:
        items.extend(sb.items)
    return items


def ledger(m: ModelState) -> Ledger:
    """R11, R11.1: ``credited = delivered + dropped + returned + pending``,
    where ``pending`` sums the transfer records still held."""
    pending_up = pending_down = 0
    for tagged in all_pending(m):
        if tagged.record.kind is RecordKind.TRANSFER:
            pending_up += tagged.record.up
            pending_down += tagged.record.down
    lv = m.ledger
    b = ByteCount
    return Ledger(b(lv["credited_up"]), b(lv["credited_down"]), b(lv["delivered_up"]),
                  b(lv["delivered_down"]), b(lv["dropped_up"]), b(lv["dropped_down"]),
                  b(lv["returned_up"]), b(lv["returned_down"]), b(pending_up),
                  b(pending_down), {c: (b(v[0]), b(v[1])) for c, v in m.attributed.items()})


def metrics(m: ModelState) -> Metrics:
    """R12: gauges and counters as plain data."""
    c = m.counters
    return Metrics(
        users=len(users_of(m)), entries=entry_count(m),
        buffered_records=sum(len(b) for b in m.buffers.values()),
        waiting_batches=sum(1 for sb in m.batches if not sb.in_flight),
        in_flight_batches=sum(1 for sb in m.batches if sb.in_flight),
        pending_records=pending_count(m), announces=sum(m.outcomes.values()),
        outcomes=dict(m.outcomes), rejected=dict(m.rejected), records=dict(m.records),
        batches_sealed=c["batches_sealed"], batches_delivered=c["batches_delivered"],
        batches_failed=c["batches_failed"], records_delivered=c["records_delivered"],
        purged_entries=c["purged_entries"], purges_deferred=c["purges_deferred"],
        gc_runs=c["gc_runs"], gc_entries_scanned=c["gc_entries_scanned"],
        seed_panics=c["seed_panics"],
    )
