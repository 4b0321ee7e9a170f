"""One announce, decided in the order of SPEC R3.1 (the model's steps).

:func:`process_announce` is the whole rule as a list of named steps; each
step reads and fills one :class:`Announce` (the decision so far) and either
ends the decision with a refusal or hands on to the next. Steps 1 to 9
change nothing but the clock and the refusal counters; from step 10 on the
announce is accepted and the state changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from privtrak.reference import (
    INT64_MAX,
    AnnounceRequest,
    AnnounceResult,
    BaselineKey,
    Batch,
    ByteCount,
    Cause,
    CounterDecrease,
    CounterLimit,
    DeltaRecord,
    Event,
    IdentificationError,
    Outcome,
    RecordKind,
    RejectCode,
    Seconds,
    StaleOnAnnounce,
    StartedOnKnown,
    StoppedUnknown,
    TrackerState,
    Unmodelled,
    UserId,
    wrap_int64,
)

from .batches import append_record, buffer_of, pending_count, seal_when_filled, size_trigger
from .clock import advance_clock, check_alive, check_clock
from .purge import (
    aborts,
    announce_panics,
    forget_user_if_empty,
    is_stale,
    note_inserted,
    purge_user,
    remove_stale_entry,
    user_keys,
)
from .state import Key, ModelState, Stored

NO_BYTES = ByteCount(0)
"""Zero bytes: the counts of records and results that carry no transfer."""

NO_USER = UserId(bytes(16))
"""The user of an announce not identified yet."""


@dataclass
class Announce:
    """The decision about one announce, filled in step by step."""

    request: AnnounceRequest
    now: Seconds
    user: UserId = NO_USER
    key: Key | None = None
    old: Stored | None = None
    """The entry the announce continues, if any (after R7.2)."""
    expired: bool = False
    outcome: Outcome = Outcome.BASELINE
    cause: Cause | None = None
    credited: tuple[int, int] = (0, 0)
    attributed: tuple[int, int] = (0, 0)
    record_event: Event = Event.NONE
    record: DeltaRecord | None = None
    before: list[tuple[Key, Stored]] = field(default_factory=list)
    """R7.3 ``abort``: the user's entries before the state changed."""
    before_cap: int = 0
    panicked: bool = False
    seed_would_panic: bool = False
    flush: Batch | None = None


def process_announce(m: ModelState, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
    """R3.1: an announce is decided in this order; the first step that applies
    ends the decision."""
    check_clock(m, now)                               # 1. R0
    check_alive(m)                                    #    R7.3
    a = Announce(request, now, record_event=request.event)
    refusal = refuse_while_closing(m, a) or identify_user(m, a)   # 2. R8.1, 3. R1
    if refusal is None:
        refuse_corrupted_user(m, a)                   #    R7.3
        refusal = refuse_counters_out_of_range(m, a)  # 4. R9.2
    advance_clock(m, now)                             #    R0
    if refusal is not None:
        return refusal
    look_up_entry(m, a)                               # 5. R2.1, R7.2
    if a.old is None:
        decide_absent_entry(m, a)                     # 6. R5.3, R7.2, R3
    else:
        count_completed_once(m, a)                    # 7. R5.2
        process_counter_decrease(m, a)                #    R4.1
        process_started_on_known(m, a)                #    R4.2
        process_credit(m, a)                          #    R3.2, R9.1
    form_record(m, a)                                 # 8. R3.3, R5.2
    refusal = refuse_when_pending_full(m, a)          # 9. R6.7
    if refusal is not None:
        return refusal
    remember_list_for_seed_panic(m, a)                #    R7.3
    purge_expired_entry(m, a)                         # 10. R7.2, R7.4
    store_entry(m, a)                                 #     R3, R3.2, R5.1
    account_announce(m, a)                            #     R3.4, R11.1, R12
    buffer_record(m, a)                               #     R3.3, R6.1
    process_purge_on_announce(m, a)                   # 11. R7.1, R7.3
    if not a.panicked:
        forget_user_if_empty(m, a.user)               #     R5.1
        a.flush = size_trigger(m, buffer_of(m, a.user), now)   # 12. R6.1, R6.3
    return AnnounceResult(a.outcome, a.user, a.record, ByteCount(a.credited[0]),
                          ByteCount(a.credited[1]), a.cause, ByteCount(a.attributed[0]),
                          ByteCount(a.attributed[1]), a.flush, None, "", a.seed_would_panic)


def reject(m: ModelState, code: RejectCode, message: str) -> AnnounceResult:
    """R1, R12: a refused announce is an ordinary result (outcome ``rejected``
    with a reject code and message) that changes nothing but the refusal
    counters."""
    m.outcomes[Outcome.REJECTED.value] += 1
    m.rejected[code.value] += 1
    return AnnounceResult(Outcome.REJECTED, None, None, NO_BYTES, NO_BYTES, None, NO_BYTES,
                          NO_BYTES, None, code, message, False)


def refuse_while_closing(m: ModelState, a: Announce) -> AnnounceResult | None:
    """R8.1: after ``stop``, every announce is rejected with ``closing`` and
    changes nothing."""
    if m.state is TrackerState.OPEN:
        return None
    return reject(m, RejectCode.CLOSING, "the tracker is stopping")


def identify_user(m: ModelState, a: Announce) -> AnnounceResult | None:
    """R1, R1.1, R1.2: the identifier maps the request to a 16-byte user id or
    refuses it with a reject code (``bad_credential``, ``unknown_user``)."""
    try:
        a.user = m.identifier.identify(a.request)
    except IdentificationError as exc:
        return reject(m, exc.code, str(exc))
    return None


def refuse_corrupted_user(m: ModelState, a: Announce) -> None:
    """R7.3: a later announce of a user whose list an announce-path panic
    corrupted raises ``Unmodelled`` (Go's behaviour on it is not modelled)."""
    if a.user in m.corrupted:
        raise Unmodelled(f"user {a.user.hex()}: the seed's expiry panic corrupted this user's "
                         "stored list; what Go does with it next is not modelled (R7.3)")


def refuse_counters_out_of_range(m: ModelState, a: Announce) -> AnnounceResult | None:
    """R9.2: under ``counter_limit = reject``, an announce reporting
    ``uploaded`` or ``downloaded`` above 2**63-1 is rejected with
    ``counter_out_of_range`` and changes nothing."""
    r = a.request
    if m.config.policy.counter_limit is CounterLimit.REJECT and (
            r.uploaded > INT64_MAX or r.downloaded > INT64_MAX):
        return reject(m, RejectCode.COUNTER_OUT_OF_RANGE,
                      f"uploaded={r.uploaded} downloaded={r.downloaded}: above 2**63-1")
    return None


def look_up_entry(m: ModelState, a: Announce) -> None:
    """R2.1, R7.2: the entry of the key (user, infohash, peer id) (or (user,
    infohash) under ``user_torrent``) is looked up; under
    ``stale_on_announce = expire`` a stale one counts as absent and is marked
    expired."""
    by_peer = m.config.policy.baseline_key is BaselineKey.USER_TORRENT_PEER
    a.key = (a.user, a.request.info_hash, a.request.peer_id if by_peer else None)
    a.old = m.stored.get(a.key)
    if (a.old is not None and m.config.policy.stale_on_announce is StaleOnAnnounce.EXPIRE
            and is_stale(m, a.old, a.now)):
        a.expired = True
        a.old = None


def decide_absent_entry(m: ModelState, a: Announce) -> None:
    """R5.3, R7.2, R3: with no entry, ``stopped`` under ``ignore`` is
    ``stopped_unknown`` (nothing accounted); an expired entry gives
    ``expired`` (cause ``purge_gap``); otherwise the counters become the
    baseline (``baseline``). The whole report is attributed to the cause."""
    r = a.request
    if r.event is Event.STOPPED and m.config.policy.stopped_unknown is StoppedUnknown.IGNORE:
        a.outcome = Outcome.STOPPED_UNKNOWN
        return
    if a.expired:
        a.outcome, a.cause = Outcome.EXPIRED, Cause.PURGE_GAP
    else:
        a.outcome, a.cause = Outcome.BASELINE, Cause.BASELINE
    a.attributed = (r.uploaded, r.downloaded)


def count_completed_once(m: ModelState, a: Announce) -> None:
    """R5.2: under ``event_records``, ``completed`` is counted once per entry:
    a later ``completed`` for the same entry is reported with event ``none``."""
    assert a.old is not None
    if m.config.policy.event_records and a.request.event is Event.COMPLETED and a.old.completed:
        a.record_event = Event.NONE


def start_new_epoch(a: Announce) -> None:
    """R3.4: a ``reset`` starts a new baseline epoch: nothing is credited and
    the whole report is attributed to cause ``reset``."""
    a.outcome, a.cause = Outcome.RESET, Cause.RESET
    a.attributed = (a.request.uploaded, a.request.downloaded)


def process_counter_decrease(m: ModelState, a: Announce) -> None:
    """R4.1: if either reported counter is lower than the entry's, under
    ``counter_decrease = reset`` the reported counters become the new
    baseline and nothing is credited (outcome ``reset``)."""
    assert a.old is not None
    went_down = a.request.uploaded < a.old.up or a.request.downloaded < a.old.down
    if went_down and m.config.policy.counter_decrease is CounterDecrease.RESET:
        start_new_epoch(a)


def process_started_on_known(m: ModelState, a: Announce) -> None:
    """R4.2: ``started`` for an existing entry under ``started_on_known =
    reset`` begins a new session: outcome ``reset``, nothing credited."""
    if (a.request.event is Event.STARTED
            and m.config.policy.started_on_known is StartedOnKnown.RESET):
        start_new_epoch(a)


def process_credit(m: ModelState, a: Announce) -> None:
    """R3.2, R9.1: otherwise ``credited = reported - baseline`` per direction
    (int64-wrapped under ``wrap``; negative under ``negative_delta``); outcome
    ``stopped`` for event ``stopped``, else ``credited``."""
    assert a.old is not None
    if a.outcome is Outcome.RESET:
        return
    a.outcome = Outcome.STOPPED if a.request.event is Event.STOPPED else Outcome.CREDITED
    a.credited = (wrap_int64(a.request.uploaded - a.old.up),
                  wrap_int64(a.request.downloaded - a.old.down))


def form_record(m: ModelState, a: Announce) -> None:
    """R3.3, R5.2: a non-zero credit in either direction forms one
    ``transfer`` record; under ``event_records`` a zero-byte announce carrying
    an event forms an ``event`` record (none for ``stopped_unknown``)."""
    r = a.request
    if a.credited != (0, 0):
        a.record = DeltaRecord(RecordKind.TRANSFER, a.user, r.info_hash, r.peer_id,
                               ByteCount(a.credited[0]), ByteCount(a.credited[1]),
                               a.record_event, r.left, a.now)
    elif (m.config.policy.event_records and a.record_event is not Event.NONE
          and a.outcome is not Outcome.STOPPED_UNKNOWN):
        a.record = DeltaRecord(RecordKind.EVENT, a.user, r.info_hash, r.peer_id, NO_BYTES,
                               NO_BYTES, a.record_event, r.left, a.now)


def refuse_when_pending_full(m: ModelState, a: Announce) -> AnnounceResult | None:
    """R6.7: an announce whose records (its own, and the purge record of its
    expired entry) would push pending records above ``max_pending`` is
    rejected with ``pending_full`` and changes nothing."""
    new_records = (a.record is not None) + (a.expired and m.config.policy.purge_records)
    limit = m.config.max_pending
    if limit is not None and new_records and pending_count(m) + new_records > limit:
        return reject(m, RejectCode.PENDING_FULL,
                      f"{pending_count(m)} records are pending (max_pending={limit})")
    return None


def remember_list_for_seed_panic(m: ModelState, a: Announce) -> None:
    """R7.3 ``abort``: what a panic leaves depends on the user's list and its
    Go slice capacity before the announce changed them."""
    if m.config.policy.purge_on_announce and aborts(m):
        a.before = [(k, Stored(s.up, s.down, s.last_seen, s.completed))
                    for k in user_keys(m, a.user) for s in (m.stored[k],)]
        a.before_cap = m.go_capacity.get(a.user, 0)


def purge_expired_entry(m: ModelState, a: Announce) -> None:
    """R7.2, R7.4: the expired entry is removed as GC would remove it (its
    purge record first)."""
    if a.expired:
        assert a.key is not None
        remove_stale_entry(m, a.key, a.now)


def store_entry(m: ModelState, a: Announce) -> None:
    """R3, R3.2, R5.1, R2.2: a new baseline is created (``completed`` if the
    event is ``completed``), a known entry takes the reported counters and
    ``last_seen = now``, and an accepted ``stopped`` for a known entry
    removes it; ``stopped_unknown`` stores nothing."""
    assert a.key is not None
    r = a.request
    if a.outcome is Outcome.STOPPED_UNKNOWN:
        return
    if a.outcome in (Outcome.BASELINE, Outcome.EXPIRED):
        m.stored[a.key] = Stored(r.uploaded, r.downloaded, a.now, r.event is Event.COMPLETED)
        note_inserted(m, a.user)
    elif r.event is Event.STOPPED:
        del m.stored[a.key]
    else:
        assert a.old is not None
        a.old.up, a.old.down, a.old.last_seen = r.uploaded, r.downloaded, a.now
        a.old.completed = a.old.completed or r.event is Event.COMPLETED


def account_announce(m: ModelState, a: Announce) -> None:
    """R12, R3.4, R11.1: the outcome is counted and the attributed bytes are
    added to ``ledger().attributed[cause]``."""
    m.outcomes[a.outcome.value] += 1
    if a.cause is not None:
        m.attributed[a.cause][0] += a.attributed[0]
        m.attributed[a.cause][1] += a.attributed[1]


def buffer_record(m: ModelState, a: Announce) -> None:
    """R3.3, R6.1: the record is appended to its user's buffer (R6.8) and its
    transfer bytes count as credited (R11); off the announce path a buffer it
    fills is sealed at once, before any R7.1 purge record joins it."""
    if a.record is not None:
        buffer = buffer_of(m, a.user)
        append_record(m, buffer, a.record)
        seal_when_filled(m, buffer, a.now)


def process_purge_on_announce(m: ModelState, a: Announce) -> None:
    """R7.1, R7.3: under ``purge_on_announce`` the announcing user's stale
    entries are purged after accounting; under ``expiry_panic = abort`` a
    panicking loop leaves Go's list and stops the announce (no size check)."""
    if not m.config.policy.purge_on_announce:
        return
    if aborts(m) and a.key is not None and announce_panics(
            m, a.user, a.key, a.before, before_cap=a.before_cap, now=a.now):
        a.panicked = a.seed_would_panic = True
        return
    a.seed_would_panic = purge_user(m, a.user, a.now)
