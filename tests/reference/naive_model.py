"""A second, deliberately naive model of the accounting semantics.

It is written to be obviously right, not fast: every stored baseline is one
item of a flat dict keyed by ``(user, info_hash, peer_id_or_None)``; every
record and batch sits in flat lists that are scanned with plain loops; there
are no caches, lower bounds or heaps. It shares no code with the optimised
:class:`privtrak.reference.Tracker` beyond the public value types, enums and
the configuration (and, by default, the public ``PasskeyIdentifier``:
identification is not accounting), and offers the same driver operations
with the same results, so the stateful tests can run both side by side and
compare every step (see ``test_ref_stateful.py``).

The rules it implements are the ones listed in the module docstring of
``reference/_tracker.py`` and in ``shared/design/seed-behaviour.md``. One
rule is applied to the letter here: every call that raises
:class:`UsageError` changes nothing, not even the clock.

Each record the model creates carries a private serial number; delivering a
serial twice raises ``AssertionError``, so the model itself proves that no
record is ever handed to the handler twice after a success.
"""

from __future__ import annotations

from dataclasses import dataclass

from privtrak.reference import (
    INT64_MAX,
    AnnounceRequest,
    AnnounceResult,
    BaselineKey,
    Batch,
    BatchScope,
    Cause,
    CloseReport,
    Config,
    CounterDecrease,
    CounterLimit,
    DeltaRecord,
    EntryView,
    Event,
    FailedBatch,
    FlushPath,
    GcResult,
    HandlerFailure,
    IdentificationError,
    InfoHash,
    Ledger,
    Metrics,
    Outcome,
    PasskeyIdentifier,
    PeerId,
    RecordKind,
    RejectCode,
    StaleOnAnnounce,
    StartedOnKnown,
    StoppedUnknown,
    StopUndelivered,
    TrackerState,
    UsageError,
    UserId,
    UserIdentifier,
)

Key = tuple[UserId, InfoHash, PeerId | None]
"""A baseline key; the peer id is ``None`` under ``user_torrent`` keying."""


def fnv1a_32(data: bytes) -> int:
    """FNV-1a, 32 bits, written out from its definition."""
    h = 2166136261
    for byte in data:
        h = h ^ byte
        h = (h * 16777619) % (2**32)
    return h


def to_int64(value: int) -> int:
    """Interpret ``value`` modulo 2**64 as a two's complement signed int64."""
    value = value % (2**64)
    if value >= 2**63:
        value = value - 2**64
    return value


@dataclass
class Stored:
    """One baseline."""

    up: int
    down: int
    last_seen: int
    completed: bool


@dataclass
class Tagged:
    """A record plus the model's private serial number."""

    serial: int
    record: DeltaRecord


@dataclass
class SealedBatch:
    """A sealed batch that is neither delivered nor closed."""

    batch_id: int
    shard: int | None
    """The buffer it was sealed from: a shard, or ``None`` for the global one."""
    items: list[Tagged]
    sealed_at: int
    attempts: int
    not_before: int
    on_path: bool
    in_flight: bool

    def as_batch(self) -> Batch:
        return Batch(self.batch_id, self.shard, tuple(t.record for t in self.items),
                     self.sealed_at)


class NaiveModel:
    """The naive model; its methods mirror :class:`Tracker`'s driver API."""

    def __init__(self, config: Config, identifier: UserIdentifier | None = None,
                 now: int = 0) -> None:
        self.config = config
        self.policy = config.policy
        self.identifier: UserIdentifier = (
            identifier if identifier is not None else PasskeyIdentifier())
        self.state = TrackerState.OPEN
        self.now = now
        self.next_gc_at = now + config.gc_interval
        self.stored: dict[Key, Stored] = {}
        # One flat list of buffered records per buffer, plus when each buffer
        # received its oldest record (for the age trigger). A buffer is named
        # by its shard, or by None for the one global buffer (R6.8).
        self.is_global = config.policy.batch_scope is BatchScope.GLOBAL
        names: list[int | None] = [None] if self.is_global else list(range(config.shard_count))
        self.buffer: dict[int | None, list[Tagged]] = {name: [] for name in names}
        self.buffer_since: dict[int | None, int] = {}
        self.batches: list[SealedBatch] = []
        self.next_batch_id = 1
        self.next_serial = 1
        self.delivered_serials: set[int] = set()
        self.ledger_values = {name: 0 for name in (
            "credited_up", "credited_down", "delivered_up", "delivered_down",
            "dropped_up", "dropped_down", "returned_up", "returned_down")}
        self.attributed_values = {Cause.BASELINE: [0, 0], Cause.RESET: [0, 0],
                                  Cause.PURGE_GAP: [0, 0]}
        self.outcome_counts = {o.value: 0 for o in Outcome}
        self.reject_counts = {r.value: 0 for r in RejectCode}
        self.record_counts = {k.value: 0 for k in RecordKind}
        self.sealed_count = 0
        self.batches_delivered = 0
        self.batches_failed = 0
        self.records_delivered = 0
        self.purged = 0
        self.purges_deferred = 0
        self.gc_runs = 0
        self.gc_scanned = 0
        self.seed_panics = 0

    # -- helpers ------------------------------------------------------------

    def check_time(self, now: int) -> None:
        if type(now) is not int:
            raise UsageError(f"now must be an int, got {now!r}")
        if now < self.now:
            raise UsageError(f"now went backwards: {now} < {self.now}")

    def shard_of(self, user: bytes) -> int:
        return fnv1a_32(user) % self.config.shard_count

    def buffer_name(self, user: bytes) -> int | None:
        """The buffer that takes ``user``'s records: the global one, or its shard's."""
        return None if self.is_global else self.shard_of(user)

    def key_of(self, user: UserId, request: AnnounceRequest) -> Key:
        if self.policy.baseline_key is BaselineKey.USER_TORRENT_PEER:
            return (user, request.info_hash, request.peer_id)
        return (user, request.info_hash, None)

    def pending_records(self) -> int:
        count = 0
        for shard in self.buffer:
            count += len(self.buffer[shard])
        for sb in self.batches:
            count += len(sb.items)
        return count

    def is_stale(self, key: Key, now: int) -> bool:
        return self.stored[key].last_seen < now - self.config.peer_lifetime

    def add_record(self, shard: int | None, record: DeltaRecord, now: int) -> None:
        if not self.buffer[shard]:
            self.buffer_since[shard] = now
        self.buffer[shard].append(Tagged(self.next_serial, record))
        self.next_serial += 1
        self.record_counts[record.kind.value] += 1

    def remove_stale(self, key: Key, now: int) -> None:
        del self.stored[key]
        self.purged += 1
        if self.policy.purge_records:
            user, info_hash, peer = key
            shard = self.buffer_name(user)
            self.add_record(shard, DeltaRecord(
                RecordKind.PURGE, user, info_hash, peer, 0, 0, Event.NONE, None, now), now)
            # Off the announce path a buffer that purges filled is sealed at
            # once, so no batch grows past batch_size (R6.1).
            if (self.policy.flush_path is FlushPath.BACKGROUND
                    and len(self.buffer[shard]) >= self.config.batch_size):
                self.seal(shard, now)

    def seal(self, shard: int | None, now: int, on_path: bool = False) -> SealedBatch:
        sb = SealedBatch(self.next_batch_id, shard, list(self.buffer[shard]), now,
                         attempts=0, not_before=now, on_path=on_path, in_flight=False)
        self.next_batch_id += 1
        self.sealed_count += 1
        self.buffer[shard] = []
        self.batches.append(sb)
        return sb

    def seal_every_buffer(self, now: int) -> list[int]:
        ids = []
        for shard in self.buffer:
            if self.buffer[shard]:
                ids.append(self.seal(shard, now).batch_id)
        return ids

    def waiting_in_id_order(self) -> list[SealedBatch]:
        waiting = [sb for sb in self.batches if not sb.in_flight]
        waiting.sort(key=lambda sb: sb.batch_id)
        return waiting

    def find_in_flight(self, batch_id: int) -> SealedBatch:
        for sb in self.batches:
            if sb.batch_id == batch_id and sb.in_flight:
                return sb
        raise UsageError(f"batch {batch_id} is not in flight")

    def purge_user(self, user: UserId, now: int) -> bool:
        """Drop the user's stale entries; return whether the seed would panic."""
        cutoff = now - self.config.peer_lifetime
        keys = sorted(k for k in self.stored if k[0] == user)
        stale = [k for k in keys if self.stored[k].last_seen < cutoff]
        # The seed ranges over the user's list sorted by infohash and removes
        # while iterating: it crashes unless the only expired entry is the last.
        panic = bool(stale) and stale[0] != keys[-1]
        if panic:
            self.seed_panics += 1
        for key in stale:
            if (self.policy.purge_records and self.config.max_pending is not None
                    and self.pending_records() >= self.config.max_pending):
                self.purges_deferred += 1
                continue
            self.remove_stale(key, now)
        return panic

    def reject(self, code: RejectCode, message: str) -> AnnounceResult:
        self.outcome_counts[Outcome.REJECTED.value] += 1
        self.reject_counts[code.value] += 1
        return AnnounceResult(Outcome.REJECTED, None, None, 0, 0, None, 0, 0, None, code,
                              message, False)

    # -- the driver API -------------------------------------------------------

    def announce(self, request: AnnounceRequest, now: int) -> AnnounceResult:
        self.check_time(now)
        self.now = now
        pol = self.policy
        if self.state is not TrackerState.OPEN:
            return self.reject(RejectCode.CLOSING, "closing")
        try:
            user = self.identifier.identify(request)
        except IdentificationError as exc:
            return self.reject(exc.code, str(exc))
        up, down, event = request.uploaded, request.downloaded, request.event
        if pol.counter_limit is CounterLimit.REJECT and (up > INT64_MAX or down > INT64_MAX):
            return self.reject(RejectCode.COUNTER_OUT_OF_RANGE, "counter above 2**63-1")
        key = self.key_of(user, request)
        old = self.stored.get(key)
        expired = (old is not None and pol.stale_on_announce is StaleOnAnnounce.EXPIRE
                   and self.is_stale(key, now))
        known = old is not None and not expired

        credited = (0, 0)
        attributed = (0, 0)
        cause: Cause | None = None
        record_event = event
        if not known:
            if event is Event.STOPPED and pol.stopped_unknown is StoppedUnknown.IGNORE:
                outcome = Outcome.STOPPED_UNKNOWN
            elif expired:
                outcome, cause, attributed = Outcome.EXPIRED, Cause.PURGE_GAP, (up, down)
            else:
                outcome, cause, attributed = Outcome.BASELINE, Cause.BASELINE, (up, down)
        else:
            assert old is not None
            if pol.event_records and event is Event.COMPLETED and old.completed:
                record_event = Event.NONE
            went_down = up < old.up or down < old.down
            if ((went_down and pol.counter_decrease is CounterDecrease.RESET)
                    or (event is Event.STARTED and pol.started_on_known is StartedOnKnown.RESET)):
                outcome, cause, attributed = Outcome.RESET, Cause.RESET, (up, down)
            else:
                outcome = Outcome.STOPPED if event is Event.STOPPED else Outcome.CREDITED
                credited = (to_int64(up - old.up), to_int64(down - old.down))

        record: DeltaRecord | None = None
        if credited != (0, 0):
            record = DeltaRecord(RecordKind.TRANSFER, user, request.info_hash, request.peer_id,
                                 credited[0], credited[1], record_event, request.left, now)
        elif (pol.event_records and record_event is not Event.NONE
              and outcome is not Outcome.STOPPED_UNKNOWN):
            record = DeltaRecord(RecordKind.EVENT, user, request.info_hash, request.peer_id,
                                 0, 0, record_event, request.left, now)
        new_records = 0
        if record is not None:
            new_records += 1
        if expired and pol.purge_records:
            new_records += 1
        if (self.config.max_pending is not None and new_records > 0
                and self.pending_records() + new_records > self.config.max_pending):
            return self.reject(RejectCode.PENDING_FULL, "pending_full")

        # Accepted: change the state.
        shard = self.buffer_name(user)
        if expired:
            self.remove_stale(key, now)
        if outcome is Outcome.STOPPED_UNKNOWN:
            pass
        elif outcome in (Outcome.STOPPED, Outcome.RESET) and event is Event.STOPPED:
            del self.stored[key]
        elif outcome in (Outcome.BASELINE, Outcome.EXPIRED):
            self.stored[key] = Stored(up, down, now, event is Event.COMPLETED)
        else:
            assert old is not None
            old.up, old.down, old.last_seen = up, down, now
            old.completed = old.completed or event is Event.COMPLETED
        self.outcome_counts[outcome.value] += 1
        if cause is not None:
            self.attributed_values[cause][0] += attributed[0]
            self.attributed_values[cause][1] += attributed[1]
        if record is not None:
            if record.kind is RecordKind.TRANSFER:
                self.ledger_values["credited_up"] += record.up
                self.ledger_values["credited_down"] += record.down
            self.add_record(shard, record, now)
            if (pol.flush_path is FlushPath.BACKGROUND
                    and len(self.buffer[shard]) >= self.config.batch_size):
                self.seal(shard, now)
        panic = False
        if pol.purge_on_announce:
            panic = self.purge_user(user, now)
        flush: Batch | None = None
        if len(self.buffer[shard]) >= self.config.batch_size:
            if pol.flush_path is FlushPath.BACKGROUND:
                self.seal(shard, now)
            elif not any(sb.in_flight and sb.shard == shard for sb in self.batches):
                sb = self.seal(shard, now, on_path=True)
                sb.in_flight = True
                sb.attempts += 1
                flush = sb.as_batch()
        return AnnounceResult(outcome, user, record, credited[0], credited[1], cause,
                              attributed[0], attributed[1], flush, None, "", panic)

    def next_batch(self, now: int) -> Batch | None:
        self.check_time(now)
        if self.state is TrackerState.CLOSED:
            raise UsageError("next_batch() after close()")
        self.now = now
        max_age = self.config.max_batch_age
        if max_age is not None:
            aged = [(self.buffer_since[s], s) for s in self.buffer
                    if self.buffer[s] and self.buffer_since[s] + max_age <= now]
            # Shard buffers in age order, ties by shard; a global buffer is alone.
            aged.sort(key=lambda item: (item[0], -1 if item[1] is None else item[1]))
            for _, name in aged:
                self.seal(name, now)
        for sb in self.waiting_in_id_order():
            if sb.not_before <= now:
                sb.in_flight = True
                sb.attempts += 1
                return sb.as_batch()
        return None

    def batch_succeeded(self, batch_id: int, now: int) -> None:
        self.check_time(now)
        sb = self.find_in_flight(batch_id)
        self.now = now
        self.batches.remove(sb)
        for item in sb.items:
            assert item.serial not in self.delivered_serials, "a record was delivered twice"
            self.delivered_serials.add(item.serial)
            if item.record.kind is RecordKind.TRANSFER:
                self.ledger_values["delivered_up"] += item.record.up
                self.ledger_values["delivered_down"] += item.record.down
        self.batches_delivered += 1
        self.records_delivered += len(sb.items)

    def batch_failed(self, batch_id: int, now: int) -> bool:
        self.check_time(now)
        sb = self.find_in_flight(batch_id)
        self.now = now
        self.batches_failed += 1
        was_on_path = sb.on_path
        if self.policy.failed_batch is FailedBatch.MERGE:
            self.batches.remove(sb)
            self.buffer[sb.shard] = sb.items + self.buffer[sb.shard]
            self.buffer_since[sb.shard] = sb.items[0].record.time
        else:
            wait = self.config.retry_backoff_initial * 2 ** min(sb.attempts - 1, 62)
            wait = min(wait, self.config.retry_backoff_max)
            sb.in_flight = False
            sb.on_path = False
            sb.not_before = now + wait
        fail = was_on_path and self.policy.handler_failure is HandlerFailure.FAIL_ANNOUNCE
        if fail:
            # The client sees a refused announce, counted like the core's own.
            self.reject_counts[RejectCode.HANDLER_FAILED.value] += 1
        return fail

    def reoffer_in_flight(self) -> list[int]:
        ids = []
        for sb in sorted(self.batches, key=lambda sb: sb.batch_id):
            if sb.in_flight:
                sb.in_flight = False
                sb.on_path = False
                sb.not_before = self.now
                ids.append(sb.batch_id)
        return ids

    def collect_garbage(self, now: int) -> GcResult:
        self.check_time(now)
        if self.state is TrackerState.CLOSED:
            raise UsageError("collect_garbage() after close()")
        self.now = now
        entries_before = len(self.stored)
        users_before = len(self.users())
        deferred_before = self.purges_deferred
        panic = False
        for user in sorted(self.users()):
            if self.purge_user(user, now):
                panic = True
        sealed: list[int] = []
        if self.policy.flush_on_gc:
            sealed = self.seal_every_buffer(now)
        self.gc_runs += 1
        self.gc_scanned += entries_before
        self.next_gc_at = now + self.config.gc_interval
        return GcResult(entries_before, entries_before - len(self.stored),
                        users_before - len(self.users()),
                        self.purges_deferred - deferred_before, tuple(sealed), panic)

    def stop(self, now: int) -> tuple[Batch, ...]:
        self.check_time(now)
        if self.state is not TrackerState.OPEN:
            raise UsageError("stop() twice")
        self.now = now
        self.state = TrackerState.STOPPING
        self.seal_every_buffer(now)
        if self.config.policy.stop_entries.value == "forget":
            self.stored.clear()  # R8.3 seed: Stop replaces every shard
        handed: list[Batch] = []
        for sb in self.waiting_in_id_order():
            sb.in_flight = True
            sb.attempts += 1
            handed.append(sb.as_batch())
        return tuple(handed)

    def close(self, now: int) -> CloseReport:
        self.check_time(now)
        if self.state is not TrackerState.STOPPING:
            raise UsageError("close() before stop()")
        if any(sb.in_flight for sb in self.batches):
            raise UsageError("close() with batches in flight")
        self.now = now
        self.seal_every_buffer(now)
        leftovers = [sb.as_batch() for sb in self.waiting_in_id_order()]
        self.batches = []
        drop = self.policy.stop_undelivered is StopUndelivered.DROP
        where = "dropped_" if drop else "returned_"
        for batch in leftovers:
            for r in batch.records:
                if r.kind is RecordKind.TRANSFER:
                    self.ledger_values[where + "up"] += r.up
                    self.ledger_values[where + "down"] += r.down
        self.state = TrackerState.CLOSED
        if drop:
            return CloseReport((), sum(len(b.records) for b in leftovers))
        return CloseReport(tuple(leftovers), 0)

    # -- inspection -----------------------------------------------------------

    def users(self) -> set[UserId]:
        return {key[0] for key in self.stored}

    def entries(self) -> list[EntryView]:
        views = [EntryView(k[0], k[1], k[2], s.up, s.down, s.last_seen, s.completed)
                 for k, s in self.stored.items()]
        views.sort(key=lambda v: (v.user, v.info_hash, v.peer_id or b""))
        return views

    def buffered_records(self, shard: int | None = None) -> tuple[DeltaRecord, ...]:
        if shard is None:
            return tuple(t.record for name in self.buffer for t in self.buffer[name])
        if self.is_global:
            return tuple(t.record for t in self.buffer[None]
                         if self.shard_of(t.record.user) == shard)
        return tuple(t.record for t in self.buffer[shard])

    def waiting_batches(self) -> list[Batch]:
        return [sb.as_batch() for sb in self.waiting_in_id_order()]

    def in_flight_batches(self) -> list[Batch]:
        return [sb.as_batch() for sb in sorted(self.batches, key=lambda sb: sb.batch_id)
                if sb.in_flight]

    def attempts(self, batch_id: int) -> int:
        for sb in self.batches:
            if sb.batch_id == batch_id:
                return sb.attempts
        raise UsageError(f"batch {batch_id} is not pending")

    def next_deadline(self) -> int | None:
        if self.state is TrackerState.CLOSED:
            return None
        times = []
        if self.state is TrackerState.OPEN:
            times.append(self.next_gc_at)
        if self.config.max_batch_age is not None:
            for shard in self.buffer:
                if self.buffer[shard]:
                    times.append(self.buffer_since[shard] + self.config.max_batch_age)
        for sb in self.batches:
            if not sb.in_flight:
                times.append(sb.not_before)
        return min(times) if times else None

    def ledger(self) -> Ledger:
        lv = self.ledger_values
        pending_up = pending_down = 0
        for tagged in self.all_pending():
            if tagged.record.kind is RecordKind.TRANSFER:
                pending_up += tagged.record.up
                pending_down += tagged.record.down
        return Ledger(lv["credited_up"], lv["credited_down"], lv["delivered_up"],
                      lv["delivered_down"], lv["dropped_up"], lv["dropped_down"],
                      lv["returned_up"], lv["returned_down"], pending_up, pending_down,
                      {c: (v[0], v[1]) for c, v in self.attributed_values.items()})

    def all_pending(self) -> list[Tagged]:
        items: list[Tagged] = []
        for shard in self.buffer:
            items.extend(self.buffer[shard])
        for sb in self.batches:
            items.extend(sb.items)
        return items

    def metrics(self) -> Metrics:
        buffered = sum(len(b) for b in self.buffer.values())
        return Metrics(
            users=len(self.users()), entries=len(self.stored), buffered_records=buffered,
            waiting_batches=sum(1 for sb in self.batches if not sb.in_flight),
            in_flight_batches=sum(1 for sb in self.batches if sb.in_flight),
            pending_records=self.pending_records(),
            announces=sum(self.outcome_counts.values()),
            outcomes=dict(self.outcome_counts), rejected=dict(self.reject_counts),
            records=dict(self.record_counts), batches_sealed=self.sealed_count,
            batches_delivered=self.batches_delivered, batches_failed=self.batches_failed,
            records_delivered=self.records_delivered, purged_entries=self.purged,
            purges_deferred=self.purges_deferred, gc_runs=self.gc_runs,
            gc_entries_scanned=self.gc_scanned, seed_panics=self.seed_panics,
        )
