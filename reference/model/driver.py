"""The driver's other calls (SPEC R6.2 to R6.6, R7, R8, R8.2): the model's steps.

Each ``process_*`` function is one driver call written as the list of its
steps, like :func:`.announce.process_announce`. Every call checks the clock
(R0) and the life cycle first and raises before changing anything.
"""

from __future__ import annotations

from privtrak.reference import (
    Batch,
    CloseReport,
    GcResult,
    RecordKind,
    Seconds,
    StopEntries,
    StopUndelivered,
    TrackerState,
    Unmodelled,
    UsageError,
    UserId,
)

from .batches import (
    fails_its_announce,
    find_in_flight,
    hand_out,
    hand_out_next_due,
    make_in_flight_waiting,
    process_failure,
    process_success,
    seal_aged_buffers,
    seal_every_buffer,
    shard_of,
    waiting_by_id,
)
from .clock import advance_clock, check_alive, check_clock
from .purge import aborts, gc_panics_on, is_stale, purge_user, users_in_gc_order
from .state import ModelState, entry_count, users_of


def process_next_batch(m: ModelState, now: Seconds) -> Batch | None:
    """R6.2, R6.4: ``next_batch(now)`` seals aged buffers, then hands out the
    next due batch; not allowed after close."""
    check_clock(m, now)                      # R0
    check_alive(m)                           # R7.3
    refuse_after_close(m, "next_batch")      # R8
    advance_clock(m, now)                    # R0
    seal_aged_buffers(m, now)                # R6.2
    return hand_out_next_due(m, now)         # R6.4


def refuse_after_close(m: ModelState, call: str) -> None:
    """R8, R7: ``next_batch`` and ``collect_garbage`` after close raise
    ``UsageError``."""
    if m.state is TrackerState.CLOSED:
        raise UsageError(f"{call}() after close()")


def process_batch_succeeded(m: ModelState, batch_id: int, now: Seconds) -> None:
    """R6.4: the handler persisted the batch: it leaves the tracker (R11
    delivered)."""
    check_clock(m, now)                      # R0
    check_alive(m)                           # R7.3
    sb = find_in_flight(m, batch_id)         # R6.4
    advance_clock(m, now)                    # R0
    process_success(m, sb)                   # R6.4, R11


def process_batch_failed(m: ModelState, batch_id: int, now: Seconds) -> bool:
    """R6.5, R6.6: the handler failed: retain or merge the batch; returns
    whether the announce that delivered it on its path fails."""
    check_clock(m, now)                      # R0
    check_alive(m)                           # R7.3
    sb = find_in_flight(m, batch_id)         # R6.4
    advance_clock(m, now)                    # R0
    was_on_path = sb.on_path
    process_failure(m, sb, now)              # R6.5
    return fails_its_announce(m, was_on_path)   # R6.6


def process_collect_garbage(m: ModelState, now: Seconds) -> GcResult:
    """R7: ``collect_garbage(now)`` purges every stale entry user by user,
    then (``flush_on_gc``) seals every buffer, and schedules the next GC."""
    check_clock(m, now)                      # R0
    check_alive(m)                           # R7.3
    refuse_after_close(m, "collect_garbage")  # R7
    refuse_gc_over_corrupted_lists(m)        # R7.3
    advance_clock(m, now)                    # R0
    entries, users, deferred = entry_count(m), len(users_of(m)), m.counters["purges_deferred"]
    panic = False
    stale_users = users_with_stale_entries(m, now)
    for user in users_in_gc_order(m):        # R7, R7.3
        if aborts(m) and gc_panics_on(m, user, now):     # R7.3 abort
            count_gc_run(m, entries)
            return GcResult(entries, entries - entry_count(m), users - len(users_of(m)),
                            m.counters["purges_deferred"] - deferred, (), True,
                            order_depends_on_go_map(m, user, stale_users))
        panic = purge_user(m, user, now) or panic          # R7, R6.7
    sealed = seal_on_gc(m, now)              # R6.2
    count_gc_run(m, entries)                 # R12
    m.next_gc_at = now + m.config.gc_interval   # R7
    return GcResult(entries, entries - entry_count(m), users - len(users_of(m)),
                    m.counters["purges_deferred"] - deferred, tuple(sealed), panic)


def refuse_gc_over_corrupted_lists(m: ModelState) -> None:
    """R7.3: GC over a list an announce-path panic corrupted is not
    modelled: ``Unmodelled``."""
    if m.corrupted:
        raise Unmodelled(f"users {sorted(u.hex() for u in m.corrupted)} hold lists an "
                         "announce-path panic corrupted; GC over them is not modelled (R7.3)")


def users_with_stale_entries(m: ModelState, now: Seconds) -> set[UserId]:
    """R7: the users GC will purge something of."""
    return {key[0] for key, stored in m.stored.items() if is_stale(m, stored, now)}


def order_depends_on_go_map(m: ModelState, user: UserId, stale_users: set[UserId]) -> bool:
    """R7.3: when another user of the panicking shard also had stale entries,
    what Go removed before the panic depends on its random map order."""
    return any(u != user and shard_of(m, u) == shard_of(m, user) for u in stale_users)


def seal_on_gc(m: ModelState, now: Seconds) -> list[int]:
    """R6.2: after purging, under ``flush_on_gc`` GC seals every non-empty
    buffer in shard order, or the one global buffer (R6.8)."""
    if not m.config.policy.flush_on_gc:
        return []
    return seal_every_buffer(m, now)


def count_gc_run(m: ModelState, scanned: int) -> None:
    """R12: ``gc_runs`` and ``gc_entries_scanned`` count every GC."""
    m.counters["gc_runs"] += 1
    m.counters["gc_entries_scanned"] += scanned


def process_stop(m: ModelState, now: Seconds) -> tuple[Batch, ...]:
    """R8: ``stop`` seals every buffer and hands out every waiting batch,
    ignoring backoff, in id order; announces are refused from now on (R8.1)."""
    check_clock(m, now)                      # R0
    check_alive(m)                           # R7.3
    if m.state is not TrackerState.OPEN:     # R8
        raise UsageError(f"stop() called in state {m.state}")
    advance_clock(m, now)                    # R0
    m.state = TrackerState.STOPPING          # R8, R8.1
    seal_every_buffer(m, now)                # R8
    forget_entries_on_stop(m)                # R8.3
    return tuple(hand_out(sb) for sb in waiting_by_id(m))   # R8, R6.4


def forget_entries_on_stop(m: ModelState) -> None:
    """R8, R8.3: under ``stop_entries = forget`` (the seed) stop replaces every
    shard: every stored baseline is forgotten; under ``keep`` they stay."""
    if m.config.policy.stop_entries is StopEntries.FORGET:
        m.stored.clear()
        m.corrupted.clear()
        m.go_capacity.clear()


def process_close(m: ModelState, now: Seconds) -> CloseReport:
    """R8, R8.2: ``close`` requires every in-flight outcome to be reported,
    seals what failed back into buffers, and settles every undelivered batch."""
    check_clock(m, now)                      # R0
    check_alive(m)                           # R7.3
    if m.state is not TrackerState.STOPPING:  # R8
        raise UsageError(f"close() called in state {m.state}; call stop() first")
    if any(sb.in_flight for sb in m.batches):
        raise UsageError("close() with batches in flight; report their outcomes first")
    advance_clock(m, now)                    # R0
    seal_every_buffer(m, now)                # R8 (R6.5 merge)
    report = settle_undelivered(m)           # R8.2
    m.state = TrackerState.CLOSED            # R8
    return report


def settle_undelivered(m: ModelState) -> CloseReport:
    """R8.2: undelivered batches are returned for the caller to keep (their
    transfer bytes count as ``returned``), or under ``drop`` discarded and
    counted (bytes ``dropped``)."""
    leftovers = [sb.as_batch() for sb in waiting_by_id(m)]
    m.batches = []
    drop = m.config.policy.stop_undelivered is StopUndelivered.DROP
    where = "dropped_" if drop else "returned_"
    for batch in leftovers:
        for r in batch.records:
            if r.kind is RecordKind.TRANSFER:
                m.ledger[where + "up"] += r.up
                m.ledger[where + "down"] += r.down
    if drop:
        return CloseReport((), sum(len(b.records) for b in leftovers))
    return CloseReport(tuple(leftovers), 0)


def process_reoffer_in_flight(m: ModelState) -> list[int]:
    """R8.3: after a restore whose deliveries' outcomes are unknown, every
    in-flight batch becomes waiting again, due at once."""
    return make_in_flight_waiting(m)
