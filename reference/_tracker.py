"""The accounting state machine: the executable form of SPEC.md.

The core is single-threaded and sans-I/O: it never reads a clock, sleeps,
opens anything or calls a handler. Every call that depends on time takes
``now`` (whole seconds, never decreasing). The driver:

1. calls :meth:`Tracker.announce` for each announce and delivers
   ``result.flush`` before answering when it is set (the seed's path);
2. takes batches with :meth:`Tracker.next_batch` and reports each outcome
   exactly once with :meth:`Tracker.batch_succeeded` or
   :meth:`Tracker.batch_failed`;
3. calls :meth:`Tracker.collect_garbage` when ``now >= next_gc_at`` and
   wakes up again at :meth:`Tracker.next_deadline`;
4. on shutdown calls :meth:`Tracker.stop`, delivers what it returns, then
   :meth:`Tracker.close`.

Rules in the order an announce meets them (SPEC.md has the reasons):

R0    ``now`` must not decrease (UsageError, nothing changed).
R8.1  After ``stop``, announces are rejected with ``closing``.
R1    The identifier derives the user id; a refusal rejects the announce.
R9.2  Policy ``reject``: counters above 2**63-1 reject the announce.
R7.2  Policy ``expire``: an entry older than ``peer_lifetime`` is dropped
      (as GC would) before the announce is accounted.
R3    No entry: the counters become the baseline, nothing is credited;
      except R5.3 ``stopped`` under ``ignore``, which changes nothing.
R4.1  Counters below the baseline: negative delta (seed) or reset.
R4.2  ``started`` on a known entry: continue (seed) or reset.
R3.2  Otherwise the differences are credited, int64-wrapped (R9.1).
R5.1  ``stopped`` removes the entry after accounting it.
R5.2  A record is emitted for non-zero bytes; under ``event_records`` also
      for a zero-byte event, with ``completed`` counted once per entry.
R6.7  If the new records would push pending over ``max_pending``, the
      announce is rejected with ``pending_full`` and nothing changes.
R7.1  Policy ``purge_on_announce``: the user's other stale entries go.
R6.1  A buffer at ``batch_size`` is sealed; on the announce path it is
      returned in ``flush`` (R6.3). The buffer is the announcing user's
      shard's, or the single tracker-wide one under ``batch_scope=global``
      (R6.8).

Reading buffers: :meth:`Tracker.buffered_records` with no argument (or
``None``) returns every buffered record, the global buffer's under
``global``; with a shard number, that shard's records only (under
``global``, the global buffer's records of that shard's users).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ._batching import Batcher
from ._config import Config
from ._entries import (
    COMPLETED_BIT,
    DOWN_SHIFT,
    FOLDED_BIT,
    PEER_KEYED,
    SEEN_SHIFT,
    TORRENT_KEYED,
    U64_MASK,
    InfoHashTable,
    Slot,
    UserEntries,
    unpack,
)
from ._errors import Unmodelled, UsageError
from ._go_slices import Change, after_announce_panic, after_gc_panic, capacity_for, grown_capacity
from ._identify import IdentificationError, PasskeyIdentifier, UserIdentifier
from ._policy import (
    BaselineKey,
    CounterDecrease,
    CounterLimit,
    ExpiryPanic,
    FailedBatch,
    FlushPath,
    HandlerFailure,
    StaleOnAnnounce,
    StartedOnKnown,
    StopEntries,
    StoppedUnknown,
    StopUndelivered,
)
from ._results import (
    AnnounceResult,
    CloseReport,
    EntryView,
    GcResult,
    Ledger,
    Metrics,
    TrackerState,
)
from ._shard import shard_of
from ._types import (
    INFO_HASH_LEN,
    INT64_MAX,
    AnnounceRequest,
    Batch,
    ByteCount,
    Cause,
    DeltaRecord,
    Event,
    InfoHash,
    Outcome,
    PeerId,
    RecordKind,
    RejectCode,
    Seconds,
    UserId,
)

_UINT64 = 1 << 64
_INT64_MIN = -(1 << 63)
_NONE = Event.NONE
_STARTED = Event.STARTED
_COMPLETED = Event.COMPLETED
_STOPPED = Event.STOPPED
_TRANSFER = RecordKind.TRANSFER
_EVENT = RecordKind.EVENT
_PURGE = RecordKind.PURGE
# Enum members as module constants: ``Outcome.X`` costs an attribute lookup
# through the enum's metaclass on every announce.
_OPEN = TrackerState.OPEN
(_O_BASELINE, _O_CREDITED, _O_RESET, _O_STOPPED, _O_STOPPED_UNKNOWN, _O_EXPIRED) = (
    Outcome.BASELINE, Outcome.CREDITED, Outcome.RESET, Outcome.STOPPED,
    Outcome.STOPPED_UNKNOWN, Outcome.EXPIRED)
_C_BASELINE, _C_RESET, _C_PURGE_GAP = Cause.BASELINE, Cause.RESET, Cause.PURGE_GAP
_new_tuple = tuple.__new__
_NO_BYTES = ByteCount(0)


def wrap_int64(value: int) -> int:
    """The seed's ``int64(uint64(a) - uint64(b))``: reduce to the signed 64-bit range."""
    value %= _UINT64
    return value - _UINT64 if value > INT64_MAX else value


class Tracker:
    """The reference tracker accounting core. See the module docstring.

    Every method either completes or raises before changing anything.
    """

    def __init__(self, config: Config | None = None,
                 identifier: UserIdentifier | None = None, *, now: Seconds = Seconds(0)) -> None:
        self._config = config if config is not None else Config()
        self._identifier: UserIdentifier = (
            identifier if identifier is not None else PasskeyIdentifier())
        self._state = TrackerState.OPEN
        self._now = _check_time(now, 0)
        self._next_gc_at = now + self._config.gc_interval
        # The storage layout of the entries is described in ._entries.
        self._users: dict[UserId, UserEntries] = {}
        self._entry_count = 0
        self._info_hashes = InfoHashTable()
        self._shard_numbers = tuple(range(self._config.shard_count))
        self._batcher = Batcher(self._config.shard_count, self._config.policy.batch_scope)
        self._ledger: dict[str, int] = dict.fromkeys(_LEDGER_FIELDS, 0)
        self._attributed: dict[Cause, list[int]] = {c: [0, 0] for c in ATTRIBUTED_CAUSES}
        self._counts: Counter[str] = Counter()
        # Hot counters are lists indexed by _OUTCOMES / _KINDS positions:
        # hashing an enum member costs a Python-level call on every announce.
        self._outcome_counts = [0] * len(_OUTCOMES)
        self._record_counts = [0] * len(_KINDS)
        # Users whose stored list an announce-path panic corrupted (R7.3
        # ``abort``): the seed's list, duplicates included, as Go holds it.
        self._corrupted: dict[UserId, tuple[tuple[bytes, int], ...]] = {}
        # The capacity the seed's Go slice of a user's entries would have
        # (R7.3 ``abort`` needs it to tell what a panic leaves behind), kept
        # only for users where it differs from ``capacity_for(entry count)``:
        # a list that only ever grew has exactly that capacity, so the common
        # user costs nothing. Empty unless ``expiry_panic = abort``.
        self._caps: dict[UserId, int] = {}
        self._configure_hot_path()

    def _configure_hot_path(self) -> None:
        cfg, pol = self._config, self._config.policy
        self._key_by_peer = pol.baseline_key is BaselineKey.USER_TORRENT_PEER
        self._layout = PEER_KEYED if self._key_by_peer else TORRENT_KEYED
        # ``now`` and the expiry cutoff shifted into place in a packed entry,
        # for the ``now`` they were computed for (see announce).
        self._bits_now = -1
        self._now_bits = self._expire_below = 0
        self._intern = self._info_hashes.intern
        self._reset_on_decrease = pol.counter_decrease is CounterDecrease.RESET
        self._reset_on_started = pol.started_on_known is StartedOnKnown.RESET
        self._ignore_unknown_stop = pol.stopped_unknown is StoppedUnknown.IGNORE
        self._expire_stale = pol.stale_on_announce is StaleOnAnnounce.EXPIRE
        self._reject_big = pol.counter_limit is CounterLimit.REJECT
        self._on_path = pol.flush_path is FlushPath.ANNOUNCE
        self._event_records = pol.event_records
        self._purge_on_announce = pol.purge_on_announce
        self._purge_records = pol.purge_records
        self._abort_on_panic = pol.expiry_panic is ExpiryPanic.ABORT
        self._batch_size = cfg.batch_size
        self._lifetime = cfg.peer_lifetime
        self._max_pending = cfg.max_pending

    # -- inspection -----------------------------------------------------------

    @property
    def config(self) -> Config:
        """The configuration this tracker runs with."""
        return self._config

    @property
    def state(self) -> TrackerState:
        """Where the tracker is in its life cycle."""
        return self._state

    @property
    def now(self) -> Seconds:
        """The latest time the driver has passed in."""
        return self._now

    @property
    def next_gc_at(self) -> Seconds:
        """When :meth:`collect_garbage` is due next."""
        return Seconds(self._next_gc_at)

    def shard_of(self, user: UserId) -> int:
        """The shard that buffers ``user``'s records (R2.3)."""
        state = self._users.get(user)
        return state.shard if state is not None else shard_of(user, self._config.shard_count)

    def entries(self) -> list[EntryView]:
        """Every stored baseline, sorted by (user, infohash, peer id)."""
        views = [EntryView(uid, info_hash, peer, *unpack(packed))
                 for uid, u in self._users.items()
                 for info_hash, peer, packed in self._stored_items(uid, u)]
        views.sort(key=lambda v: (v.user, v.info_hash, v.peer_id or b""))
        return views

    def entry(self, user: UserId, info_hash: InfoHash,
              peer_id: PeerId | None = None) -> EntryView | None:
        """The stored baseline for a key, or ``None``. ``peer_id`` is ignored
        under ``user_torrent`` keying and required under ``user_torrent_peer``."""
        state = self._users.get(user)
        if state is None:
            return None
        if self._key_by_peer:
            if peer_id is None:
                raise UsageError("entry(): peer_id is required under user_torrent_peer keying")
        else:
            peer_id = None
        found = self._layout.get(state, info_hash, peer_id)
        return None if found is None else EntryView(user, info_hash, peer_id,
                                                    *unpack(found))

    def _export_counts(self) -> dict[str, int]:
        counts = dict(self._counts)
        counts.update(("outcome." + o.value, n) for o, n in zip(_OUTCOMES, self._outcome_counts,
                                                                  strict=True))
        counts.update(("record." + k.value, n) for k, n in zip(_KINDS, self._record_counts,
                                                                 strict=True))
        return dict(sorted(counts.items()))

    def _import_counts(self, counts: dict[str, int]) -> None:
        rest = dict(counts)
        self._outcome_counts = [rest.pop("outcome." + o.value, 0) for o in _OUTCOMES]
        self._record_counts = [rest.pop("record." + k.value, 0) for k in _KINDS]
        self._counts = Counter(rest)

    def waiting_batches(self) -> list[Batch]:
        """Sealed batches not yet delivered and not in flight, by id."""
        return [p.batch for p in self._batcher.waiting.values()]

    def in_flight_batches(self) -> list[Batch]:
        """Batches handed out whose outcome is not reported yet, by id."""
        return [p.batch for _, p in sorted(self._batcher.in_flight.items())]

    def buffered_records(self, shard: int | None = None) -> tuple[DeltaRecord, ...]:
        """Records waiting to be sealed, in buffer order (R6.8).

        ``None``: every buffered record: the global buffer under
        ``batch_scope=global``, else the shard buffers one after the other in
        shard order. A shard number: only the records of that shard, which
        under ``shard`` scope is its buffer, and under ``global`` the global
        buffer's records whose user belongs to that shard.
        """
        b = self._batcher
        if shard is None:
            return tuple(r for buf in b.buffers for r in buf)
        if not 0 <= shard < self._config.shard_count:
            raise UsageError(f"shard {shard} is not within 0..{self._config.shard_count - 1}")
        if not b.global_scope:
            return tuple(b.buffers[shard])
        return tuple(r for r in b.buffers[0] if self.shard_of(r.user) == shard)

    def attempts(self, batch_id: int) -> int:
        """How often the batch has been handed out so far."""
        pending = self._batcher.waiting.get(batch_id) or self._batcher.in_flight.get(batch_id)
        if pending is None:
            raise UsageError(f"batch {batch_id} is not pending")
        return pending.attempts

    def ledger(self) -> Ledger:
        """The byte accounting so far (R11)."""
        lg = self._ledger
        return Ledger(
            credited_up=ByteCount(lg["credited_up"]),
            credited_down=ByteCount(lg["credited_down"]),
            delivered_up=ByteCount(lg["delivered_up"]),
            delivered_down=ByteCount(lg["delivered_down"]),
            dropped_up=ByteCount(lg["dropped_up"]), dropped_down=ByteCount(lg["dropped_down"]),
            returned_up=ByteCount(lg["returned_up"]),
            returned_down=ByteCount(lg["returned_down"]),
            pending_up=ByteCount(lg["credited_up"] - lg["delivered_up"] - lg["dropped_up"]
                                 - lg["returned_up"]),
            pending_down=ByteCount(lg["credited_down"] - lg["delivered_down"]
                                   - lg["dropped_down"] - lg["returned_down"]),
            attributed={c: (ByteCount(v[0]), ByteCount(v[1]))
                        for c, v in self._attributed.items()},
        )

    def metrics(self) -> Metrics:
        """A consistent copy of every counter and gauge (R12)."""
        c = self._counts
        b = self._batcher
        return Metrics(
            users=len(self._users), entries=self._entry_count,
            buffered_records=b.buffered_records, waiting_batches=len(b.waiting),
            in_flight_batches=len(b.in_flight), pending_records=b.pending_records,
            announces=sum(self._outcome_counts),
            outcomes={o.value: n for o, n in zip(_OUTCOMES, self._outcome_counts, strict=True)},
            rejected={r.value: c["reject." + r.value] for r in RejectCode},
            records={k.value: n for k, n in zip(_KINDS, self._record_counts, strict=True)},
            batches_sealed=b.sealed_count,
            batches_delivered=c["batches_delivered"], batches_failed=c["batches_failed"],
            records_delivered=c["records_delivered"], purged_entries=c["purged"],
            purges_deferred=c["purges_deferred"], gc_runs=c["gc_runs"],
            gc_entries_scanned=c["gc_scanned"], seed_panics=c["seed_panics"],
        )

    # -- announces ------------------------------------------------------------

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        """Account one announce at ``now``; see the rules in the module docstring.

        Raises :class:`UsageError` only for a decreasing ``now``; every
        refusal is a result with ``outcome == REJECTED``.
        """
        previous = self._now
        if now != previous or type(now) is not int:
            self._now = _check_time(now, previous)
        if now != self._bits_now:
            self._bits_now = now
            self._now_bits = now << SEEN_SHIFT
            # entry >> shift < now - lifetime  <=>  entry < (now - lifetime) << shift
            self._expire_below = (now - self._lifetime) << SEEN_SHIFT
        if self._state is not _OPEN:
            if self._state is TrackerState.CRASHED:
                self._now = previous
                self._check_alive()
            return self._reject(RejectCode.CLOSING, "the tracker is stopping")
        try:
            user = self._identifier.identify(request)
        except IdentificationError as exc:
            return self._reject(exc.code, str(exc))
        if self._corrupted and user in self._corrupted:
            self._now = previous
            raise Unmodelled(f"user {user.hex()}: the seed's expiry panic corrupted this "
                             "user's stored list; what Go does with it next is not modelled "
                             "(R7.3)")
        up = request.uploaded
        down = request.downloaded
        if self._reject_big and (up > INT64_MAX or down > INT64_MAX):
            return self._reject(RejectCode.COUNTER_OUT_OF_RANGE,
                                f"uploaded={up} downloaded={down}: counters above 2**63-1 "
                                "cannot be credited")
        event = request.event
        info_hash = request.info_hash
        ustate = self._users.get(user)
        # EntryLayout.get, inlined for a plain int slot (see ._entries).
        slot: Slot | None = None
        entry: int | None = None
        if ustate is not None:
            slot = ustate.entries.get(info_hash)
            if not self._key_by_peer:
                entry = slot  # type: ignore[assignment]  # always a plain int here
            elif type(slot) is int:
                if slot & FOLDED_BIT:
                    entry = self._layout.get(ustate, info_hash, request.peer_id)
                elif request.peer_id == ustate.peer:
                    entry = slot
            elif slot is not None:
                assert isinstance(slot, dict)  # several peers on the torrent
                entry = slot.get(request.peer_id)
        expired = False
        if entry is not None and self._expire_stale and entry < self._expire_below:
            expired = True
            entry = None

        credited_up = credited_down = att_up = att_down = 0
        cause: Cause | None = None
        record_event = event
        if entry is None:
            if event is _STOPPED and self._ignore_unknown_stop:
                outcome, index = _O_STOPPED_UNKNOWN, _I_STOPPED_UNKNOWN
            elif expired:
                outcome, index = _O_EXPIRED, _I_EXPIRED
                cause = _C_PURGE_GAP
                att_up, att_down = up, down
            else:
                outcome, index = _O_BASELINE, _I_BASELINE
                cause = _C_BASELINE
                att_up, att_down = up, down
        else:
            e_up = entry & U64_MASK
            e_down = (entry >> DOWN_SHIFT) & U64_MASK
            if self._event_records and event is _COMPLETED and entry & COMPLETED_BIT:
                record_event = _NONE  # R5.2: a snatch counts once per entry
            if ((up < e_up or down < e_down) and self._reset_on_decrease) or (
                    event is _STARTED and self._reset_on_started):
                outcome, index = _O_RESET, _I_RESET
                cause = _C_RESET
                att_up, att_down = up, down
            else:
                if event is _STOPPED:
                    outcome, index = _O_STOPPED, _I_STOPPED
                else:
                    outcome, index = _O_CREDITED, _I_CREDITED
                credited_up = up - e_up
                credited_down = down - e_down
                if not (_INT64_MIN <= credited_up <= INT64_MAX):
                    credited_up = wrap_int64(credited_up)
                if not (_INT64_MIN <= credited_down <= INT64_MAX):
                    credited_down = wrap_int64(credited_down)

        record: DeltaRecord | None = None
        if credited_up or credited_down:
            # tuple.__new__ skips the NamedTuple's Python-level __new__ (hot path).
            record = _new_tuple(DeltaRecord, (
                _TRANSFER, user, request.info_hash, request.peer_id, credited_up,
                credited_down, record_event, request.left, now))
        elif self._event_records and record_event is not _NONE and (
                outcome is not _O_STOPPED_UNKNOWN):
            record = DeltaRecord(_EVENT, user, request.info_hash, request.peer_id,
                                 _NO_BYTES, _NO_BYTES, record_event, request.left, now)
        new_records = (record is not None) + (expired and self._purge_records)
        batcher = self._batcher
        if (self._max_pending is not None and new_records
                and batcher.buffered_records + batcher.sealed_records + new_records
                > self._max_pending):
            return self._reject(RejectCode.PENDING_FULL,
                                f"{self._batcher.pending_records} records are waiting for the "
                                f"DeltaHandler (max_pending={self._max_pending}); retry later")

        # -- from here on the announce is accepted and state changes --
        # R7.1: a purge is due if the user may hold a stale entry. Nothing
        # below lowers ``oldest`` and a new user's is ``now``, so this is
        # decided before the state changes.
        purge_due = (self._purge_on_announce and ustate is not None
                     and ustate.oldest < now - self._lifetime)
        # R7.3 ``abort``: keep the stored list if this announce's purge may panic.
        before: dict[bytes, int] | None = None
        before_cap = 0
        if purge_due and self._abort_on_panic:
            assert ustate is not None
            before, before_cap = self._layout.flat(ustate), self._cap_of(user, ustate)
        if ustate is None:
            ustate = UserEntries(self._shard_numbers[shard_of(user, self._config.shard_count)],
                                 now, request.peer_id if self._key_by_peer else None)
            if outcome is not _O_STOPPED_UNKNOWN:
                self._users[user] = ustate
        shard = ustate.shard
        if expired:
            cap = self._cap_of(user, ustate) if self._abort_on_panic else 0
            self._drop_entry(user, ustate, info_hash,
                             request.peer_id if self._key_by_peer else None, now)
            if self._abort_on_panic:
                self._set_cap(user, ustate, cap)
            slot = ustate.entries.get(info_hash)
        entries = ustate.entries
        # EntryLayout.remove and .put, inlined for a plain int slot.
        if outcome is _O_STOPPED_UNKNOWN:
            pass
        elif event is _STOPPED and outcome is not _O_BASELINE and (
                outcome is not _O_EXPIRED):
            cap = self._cap_of(user, ustate) if self._abort_on_panic else 0
            if type(slot) is int:
                del entries[info_hash]
            else:
                self._layout.remove(ustate, info_hash, request.peer_id)
            self._entry_count -= 1
            if self._abort_on_panic:
                self._set_cap(user, ustate, cap)  # removing in place keeps the array
        elif entry is None:
            packed = (self._now_bits | (COMPLETED_BIT if event is _COMPLETED else 0)
                      | (down << DOWN_SHIFT) | up)
            if slot is None and (not self._key_by_peer or request.peer_id == ustate.peer):
                entries[self._intern(info_hash)] = packed
            else:
                self._layout.put(ustate, self._intern(info_hash),
                                 request.peer_id if self._key_by_peer else None, packed)
            self._entry_count += 1
            if self._caps and user in self._caps:  # else the capacity follows the count
                self._grow_cap(user, ustate)
        else:
            packed = (self._now_bits | (entry & COMPLETED_BIT)
                      | (COMPLETED_BIT if event is _COMPLETED else 0) | (down << DOWN_SHIFT) | up)
            if slot is entry:  # a plain int slot (folded and dict entries are other objects)
                entries[info_hash] = packed  # an existing key: the interned object stays
            else:
                self._layout.put(ustate, info_hash,
                                 request.peer_id if self._key_by_peer else None, packed)
        self._outcome_counts[index] += 1
        if cause is not None:
            acc = self._attributed[cause]
            acc[0] += att_up
            acc[1] += att_down
        if record is not None:
            if record.kind is _TRANSFER:
                self._record_counts[_I_TRANSFER] += 1
                lg = self._ledger
                lg["credited_up"] += credited_up
                lg["credited_down"] += credited_down
            else:
                self._record_counts[_I_EVENT] += 1
            buffered = batcher.append(shard, record, now)
            if buffered >= self._batch_size and not self._on_path:
                # R6.1: seal before any R7.1 purge record joins the full buffer.
                batcher.seal(shard, now)
                buffered = 0
        else:
            buffered = len(batcher.buffer_of(shard))
        panic = False
        if purge_due:
            if before is not None and self._announce_panic(
                    user, ustate, before, before_cap, cutoff=now - self._lifetime,
                    key=info_hash + request.peer_id if self._key_by_peer else info_hash):
                # Go panicked inside the purge: the record is buffered, the
                # write-back and the batch-size check never ran (R7.3).
                return _new_tuple(AnnounceResult, (
                    outcome, user, record, credited_up, credited_down, cause, att_up,
                    att_down, None, None, "", True))
            panic = self._purge_user(user, ustate, now - self._lifetime, now)
            buffered = len(batcher.buffer_of(shard))
        if not entries and user in self._users:
            del self._users[user]
            if self._caps:
                self._caps.pop(user, None)
        flush: Batch | None = None
        if buffered >= self._batch_size:
            flush = self._seal_full(shard, now)
        return _new_tuple(AnnounceResult, (outcome, user, record, credited_up, credited_down,
                                           cause, att_up, att_down, flush, None, "", panic))

    def _reject(self, code: RejectCode, message: str) -> AnnounceResult:
        self._outcome_counts[_I_REJECTED] += 1
        self._counts["reject." + code] += 1
        return AnnounceResult(Outcome.REJECTED, None, None, _NO_BYTES, _NO_BYTES, None,
                              _NO_BYTES, _NO_BYTES, None, code, message, False)

    def _seal_full(self, shard: int, now: Seconds) -> Batch | None:
        """R6.1/R6.3: seal a full buffer; on the announce path hand it out at once."""
        batcher = self._batcher
        if not self._on_path:
            batcher.seal(shard, now)
            return None
        if batcher.buffer_in_flight(shard):
            return None
        pending = batcher.seal(shard, now, on_path=True)
        return batcher.take(pending.batch.batch_id).batch

    # -- purge ----------------------------------------------------------------

    def _drop_entry(self, user: UserId, ustate: UserEntries, info_hash: InfoHash,
                    peer: PeerId | None, now: Seconds) -> None:
        """Remove one stale entry, emitting its purge record if the policy says so."""
        self._layout.remove(ustate, info_hash, peer)
        self._entry_count -= 1
        self._counts["purged"] += 1
        if self._purge_records:
            self._record_counts[_I_PURGE] += 1
            buffered = self._batcher.append(ustate.shard, DeltaRecord(
                _PURGE, user, info_hash, peer, _NO_BYTES, _NO_BYTES, _NONE, None, now), now)
            # R6.1: purges can add many records at once (a GC pass); off the
            # announce path a full buffer is sealed at once so no batch ever
            # exceeds batch_size. On the seed's path the announce seals it.
            if buffered >= self._batch_size and not self._on_path:
                self._batcher.seal(ustate.shard, now)

    def _announce_panic(self, user: UserId, ustate: UserEntries, before: dict[bytes, int],
                        before_cap: int, *, key: bytes, cutoff: int) -> bool:
        """R7.3 ``abort`` on the announce path: if the seed's loop panics here,
        leave the user's list as Go leaves it, mark the user corrupted and
        return True; otherwise change nothing and return False.

        ``before`` is the user's flat list (:meth:`EntryLayout.flat`) before
        the announce changed it, ``before_cap`` its Go slice capacity."""
        entries = self._layout.flat(ustate)
        stale = sorted(k for k, e in entries.items() if e >> SEEN_SHIFT < cutoff)
        if not stale or stale[0] == max(entries):
            return False
        was, now_in = key in before, key in entries
        change = (Change.UPDATE if was and now_in else Change.REMOVE if was
                  else Change.INSERT if now_in else None)
        old_list = sorted(before.items())
        if change is None:
            view = after_gc_panic(old_list, set(stale))
        else:
            view = after_announce_panic(old_list, before_cap, change, key,
                                        entries.get(key, 0), stale=set(stale))
        self._entry_count += len(view) - len(entries)
        self._layout.replace(ustate, view, self._intern)
        self._set_cap(user, ustate, before_cap)  # the map kept the old slice header
        self._corrupted[user] = tuple(view)
        self._counts["seed_panics"] += 1
        return True

    def _check_alive(self) -> None:
        if self._state is TrackerState.CRASHED:
            raise Unmodelled("the seed's process died in a GC panic (R7.3 abort); nothing "
                             "after it is modelled")

    def _stored_items(self, user: UserId, ustate: UserEntries
                      ) -> Iterator[tuple[InfoHash, PeerId | None, int]]:
        """The user's baselines as :meth:`EntryLayout.items` lists them, or,
        for a user an expiry panic corrupted, the seed's list, duplicates included."""
        corrupted = self._corrupted.get(user)
        if corrupted is None:
            return self._layout.items(ustate)
        by_peer = self._key_by_peer
        return ((InfoHash(key[:INFO_HASH_LEN]), PeerId(key[INFO_HASH_LEN:]) if by_peer else None,
                 packed) for key, packed in corrupted)

    def _entry_total(self, ustate: UserEntries) -> int:
        return self._layout.count(ustate) if self._key_by_peer else len(ustate.entries)

    def _cap_of(self, user: UserId, ustate: UserEntries) -> int:
        """The Go slice capacity of ``user``'s list (see ``_caps``)."""
        return self._caps.get(user) or capacity_for(self._entry_total(ustate))

    def _set_cap(self, user: UserId, ustate: UserEntries, cap: int) -> None:
        if cap == capacity_for(self._entry_total(ustate)):
            self._caps.pop(user, None)
        else:
            self._caps[user] = cap

    def _grow_cap(self, user: UserId, ustate: UserEntries) -> None:
        """An entry was appended to a list whose capacity is in ``_caps``."""
        cap = self._caps[user]
        if self._entry_total(ustate) > cap:
            cap = grown_capacity(cap)
        self._set_cap(user, ustate, cap)

    def _purge_user(self, user: UserId, ustate: UserEntries, cutoff: int, now: Seconds) -> bool:
        """Drop ``user``'s entries last seen before ``cutoff`` (R7.1).

        Returns whether the seed's expiry loop would have panicked here: it
        does when an expired entry is not the last of the user's list sorted
        by key (R7.3). Purges whose record would exceed ``max_pending`` are
        deferred to a later purge (R6.7).
        """
        shift = SEEN_SHIFT
        held = list(self._layout.items(ustate))
        cap = self._cap_of(user, ustate) if self._abort_on_panic else 0
        # Sorted as the seed's keys (infohash, then peer id) sort.
        stale = sorted((info_hash, peer or b"", peer) for info_hash, peer, packed in held
                       if packed >> shift < cutoff)
        panic = bool(stale) and stale[0][:2] != max((info_hash, peer or b"")
                                                    for info_hash, peer, _ in held)
        if panic:
            self._counts["seed_panics"] += 1
        for info_hash, _, peer in stale:
            if (self._purge_records and self._max_pending is not None
                    and self._batcher.pending_records >= self._max_pending):
                self._counts["purges_deferred"] += 1
                continue
            self._drop_entry(user, ustate, info_hash, peer, now)
        if self._abort_on_panic:
            self._set_cap(user, ustate, cap)  # removing in place keeps the array
        ustate.oldest = min((packed >> shift for _, _, packed in self._layout.items(ustate)),
                            default=now)
        return panic

    def collect_garbage(self, now: Seconds) -> GcResult:
        """Purge every entry last seen before ``now - peer_lifetime`` (R7).

        Users are visited in ascending id order so purge records are
        canonical. Under ``flush_on_gc`` every non-empty buffer is then sealed,
        in shard order, or the one global buffer (R6.2, R6.8). The next GC is
        due ``gc_interval`` later.
        """
        _check_time(now, self._now)
        self._check_alive()
        if self._state is TrackerState.CLOSED:
            raise UsageError("collect_garbage() after close()")
        if self._corrupted:
            raise Unmodelled(f"users {sorted(u.hex() for u in self._corrupted)} hold lists an "
                             "announce-path panic corrupted; GC over them is not modelled "
                             "(R7.3)")
        self._now = now
        cutoff = now - self._lifetime
        scanned = self._entry_count
        before_entries, before_users = self._entry_count, len(self._users)
        deferred_before = self._counts["purges_deferred"]
        panic = False
        # ``oldest`` is a lower bound of each user's last_seen, so users at or
        # above the cutoff hold nothing stale and are not visited at all.
        candidates = sorted(u for u, state in self._users.items() if state.oldest < cutoff)
        stale_users: dict[UserId, int] = {}  # user -> shard, for R7.3 abort
        if self._abort_on_panic:
            # The seed walks shards in order (users in map order inside one).
            candidates.sort(key=lambda u: self._users[u].shard)
            stale_users = {u: self._users[u].shard for u in candidates if any(
                e >> SEEN_SHIFT < cutoff for _, _, e in self._layout.items(self._users[u]))}
        for user in candidates:
            ustate = self._users[user]
            if self._abort_on_panic and self._gc_panic(user, ustate, candidates, cutoff):
                self._counts["gc_runs"] += 1
                self._counts["gc_scanned"] += scanned
                # Other users of this shard with stale entries could have come
                # before or after the panicking one in Go's map order.
                others = any(u != user and s == ustate.shard for u, s in stale_users.items())
                return GcResult(scanned, before_entries - self._entry_count,
                                before_users - len(self._users),
                                self._counts["purges_deferred"] - deferred_before, (), True,
                                others)
            panic |= self._purge_user(user, ustate, cutoff, now)
            if not ustate.entries:
                del self._users[user]
                if self._caps:
                    self._caps.pop(user, None)
        self._info_hashes.compact(self._users.values())
        sealed: list[int] = []
        if self._config.policy.flush_on_gc:
            sealed = self._seal_all(now)
        self._counts["gc_runs"] += 1
        self._counts["gc_scanned"] += scanned
        self._next_gc_at = now + self._config.gc_interval
        return GcResult(scanned, before_entries - self._entry_count,
                        before_users - len(self._users),
                        self._counts["purges_deferred"] - deferred_before, tuple(sealed), panic)

    def _gc_panic(self, user: UserId, ustate: UserEntries, candidates: list[UserId],
                  cutoff: int) -> bool:
        """R7.3 ``abort`` in GC: if the seed's loop panics on ``user``, leave its
        list as Go leaves it (nothing removed, survivors shifted and repeated),
        mark the process dead and return True."""
        entries = self._layout.flat(ustate)
        stale = sorted(k for k, e in entries.items() if e >> SEEN_SHIFT < cutoff)
        if not stale or stale[0] == max(entries):
            return False
        view = after_gc_panic(sorted(entries.items()), set(stale))
        self._corrupted[user] = tuple(view)
        self._entry_count += len(view) - len(entries)
        self._layout.replace(ustate, view, self._intern)
        self._counts["seed_panics"] += 1
        self._state = TrackerState.CRASHED
        return True

    def _seal_all(self, now: Seconds) -> list[int]:
        return self._batcher.seal_all(now)

    # -- delivery -------------------------------------------------------------

    def next_batch(self, now: Seconds) -> Batch | None:
        """Hand out the next batch due for delivery, or ``None``.

        Seals buffers that reached ``max_batch_age`` first (R6.2). The batch
        with the smallest id whose backoff has passed goes in flight; report
        its outcome once. Raises :class:`UsageError` after :meth:`close`.
        """
        _check_time(now, self._now)
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
        _check_time(now, self._now)
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
        _check_time(now, self._now)
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
        _check_time(now, self._now)
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
        _check_time(now, self._now)
        self._check_alive()
        if self._state is not TrackerState.STOPPING:
            raise UsageError(f"close() called in state {self._state}; call stop() first")
        if self._batcher.in_flight:
            raise UsageError(f"close() with batches {sorted(self._batcher.in_flight)} in "
                             "flight; report their outcomes first")
        self._now = now
        self._seal_all(now)
        leftovers = [p.batch for p in self._batcher.waiting.values()]
        self._batcher.waiting.clear()
        self._batcher.sealed_records = 0
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


_OUTCOMES = tuple(Outcome)
_KINDS = tuple(RecordKind)
(_I_BASELINE, _I_CREDITED, _I_RESET, _I_STOPPED, _I_STOPPED_UNKNOWN, _I_EXPIRED,
 _I_REJECTED) = (_OUTCOMES.index(o) for o in (
    Outcome.BASELINE, Outcome.CREDITED, Outcome.RESET, Outcome.STOPPED,
    Outcome.STOPPED_UNKNOWN, Outcome.EXPIRED, Outcome.REJECTED))
_I_TRANSFER, _I_EVENT, _I_PURGE = (_KINDS.index(k) for k in (
    RecordKind.TRANSFER, RecordKind.EVENT, RecordKind.PURGE))

ATTRIBUTED_CAUSES = (Cause.BASELINE, Cause.RESET, Cause.PURGE_GAP)
"""The causes the core itself attributes; the others belong to drivers."""

_LEDGER_FIELDS = ("credited_up", "credited_down", "delivered_up", "delivered_down",
                  "dropped_up", "dropped_down", "returned_up", "returned_down")


def _check_time(now: object, previous: int) -> Seconds:
    if type(now) is not int:
        raise UsageError(f"now must be whole seconds as an int, got {now!r}")
    if now < previous:
        raise UsageError(f"now went backwards: {now} < {previous}; the driver's clock "
                         "must not decrease")
    return Seconds(now)
