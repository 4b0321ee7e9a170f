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

The tracker is assembled from mixins over :class:`~._tracker_base.TrackerBase`
(the state and its shared helpers): :mod:`._purge` (R7), :mod:`._delivery`
(R6.2 to R6.6, R8), :mod:`._views` (the read-only views; how
:meth:`Tracker.buffered_records` reads buffers is described there) and
:mod:`._export` (the state as plain values, for snapshots). This module
holds the announce hot path, deliberately inlined for speed.
"""

from __future__ import annotations

from ._delivery import TrackerDelivery
from ._entries import (
    COMPLETED_BIT,
    DOWN_SHIFT,
    FOLDED_BIT,
    SEEN_SHIFT,
    U64_MASK,
    Slot,
    UserEntries,
)
from ._errors import Unmodelled
from ._export import StateExport
from ._identify import IdentificationError
from ._purge import TrackerPurge
from ._results import AnnounceResult, TrackerState
from ._tracker_base import (
    I_BASELINE,
    I_CREDITED,
    I_EVENT,
    I_EXPIRED,
    I_RESET,
    I_STOPPED,
    I_STOPPED_UNKNOWN,
    I_TRANSFER,
    NO_BYTES,
    check_time,
    wrap_int64,
)
from ._types import (
    INT64_MAX,
    AnnounceRequest,
    Batch,
    Cause,
    DeltaRecord,
    Event,
    Outcome,
    RecordKind,
    RejectCode,
    Seconds,
)
from ._views import TrackerViews

__all__ = ["Tracker", "wrap_int64"]

_INT64_MIN = -(1 << 63)
_NONE = Event.NONE
_STARTED = Event.STARTED
_COMPLETED = Event.COMPLETED
_STOPPED = Event.STOPPED
_TRANSFER = RecordKind.TRANSFER
_EVENT = RecordKind.EVENT
# Enum members as module constants: ``Outcome.X`` costs an attribute lookup
# through the enum's metaclass on every announce.
_OPEN = TrackerState.OPEN
(_O_BASELINE, _O_CREDITED, _O_RESET, _O_STOPPED, _O_STOPPED_UNKNOWN, _O_EXPIRED) = (
    Outcome.BASELINE, Outcome.CREDITED, Outcome.RESET, Outcome.STOPPED,
    Outcome.STOPPED_UNKNOWN, Outcome.EXPIRED)
_C_BASELINE, _C_RESET, _C_PURGE_GAP = Cause.BASELINE, Cause.RESET, Cause.PURGE_GAP
_new_tuple = tuple.__new__


class Tracker(TrackerViews, TrackerDelivery, TrackerPurge, StateExport):
    """The reference tracker accounting core. See the module docstring.

    Every method either completes or raises before changing anything.

    Extension points
    ----------------
    A subclass may change behaviour through these, and only these, non-public
    names (:attr:`EXTENSION_POINTS`); the conformance kit's mutants are built on
    them, and a test checks that no mutant overrides anything else:

    ``batcher_class``
        The :class:`~._batching.Batcher` subclass that holds the buffers and
        batches; its public methods are its own extension points.
    ``_configure_hot_path()``
        Derives the settings the hot path reads from the configuration
        (:attr:`HOT_PATH_SETTINGS`, e.g. ``_batch_size``, ``_lifetime``,
        ``_reject_big``); an override calls ``super()`` first, then changes
        settings. It runs when a tracker is built, also by :meth:`from_export`.
    ``_shard_of_new_user(user)``
        The shard of a user the tracker holds nothing for (R2.3).
    ``_wrap_int64(value)``
        A credit outside the int64 range, wrapped (R9.1).
    ``_purge_user(user, ustate, cutoff, now)``
        Drops one user's stale entries (R7.1), on the announce path and in GC.
    ``_backoff(attempts)``
        The retry delay of a retained failed batch (R6.5).

    An override may read and change the state named in :attr:`SUBCLASS_STATE`
    (``_config``, ``_state``, ``_now``, ``_users`` with the ``_layout`` setting,
    ``_batcher``, the counters ``_counts``, ``_record_counts`` and
    ``_entry_count``, and ``_intern`` for info hashes), and nothing else.

    Every public method may be overridden as well. A subclass instance is
    restored from a snapshot with ``restore(doc, identifier, tracker_class=...)``
    (or :meth:`from_export`), never by changing an instance's class.
    """
    # -- announces ------------------------------------------------------------

    def announce(self, request: AnnounceRequest, now: Seconds) -> AnnounceResult:
        """Account one announce at ``now``; see the rules in the module docstring.

        Raises :class:`UsageError` only for a decreasing ``now``; every
        refusal is a result with ``outcome == REJECTED``.
        """
        previous = self._now
        if now != previous or type(now) is not int:
            self._now = check_time(now, previous)
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
                outcome, index = _O_STOPPED_UNKNOWN, I_STOPPED_UNKNOWN
            elif expired:
                outcome, index = _O_EXPIRED, I_EXPIRED
                cause = _C_PURGE_GAP
                att_up, att_down = up, down
            else:
                outcome, index = _O_BASELINE, I_BASELINE
                cause = _C_BASELINE
                att_up, att_down = up, down
        else:
            e_up = entry & U64_MASK
            e_down = (entry >> DOWN_SHIFT) & U64_MASK
            if self._event_records and event is _COMPLETED and entry & COMPLETED_BIT:
                record_event = _NONE  # R5.2: a snatch counts once per entry
            if ((up < e_up or down < e_down) and self._reset_on_decrease) or (
                    event is _STARTED and self._reset_on_started):
                outcome, index = _O_RESET, I_RESET
                cause = _C_RESET
                att_up, att_down = up, down
            else:
                if event is _STOPPED:
                    outcome, index = _O_STOPPED, I_STOPPED
                else:
                    outcome, index = _O_CREDITED, I_CREDITED
                credited_up = up - e_up
                credited_down = down - e_down
                if not (_INT64_MIN <= credited_up <= INT64_MAX):
                    credited_up = self._wrap_int64(credited_up)
                if not (_INT64_MIN <= credited_down <= INT64_MAX):
                    credited_down = self._wrap_int64(credited_down)

        record: DeltaRecord | None = None
        if credited_up or credited_down:
            # tuple.__new__ skips the NamedTuple's Python-level __new__ (hot path).
            record = _new_tuple(DeltaRecord, (
                _TRANSFER, user, request.info_hash, request.peer_id, credited_up,
                credited_down, record_event, request.left, now))
        elif self._event_records and record_event is not _NONE and (
                outcome is not _O_STOPPED_UNKNOWN):
            record = DeltaRecord(_EVENT, user, request.info_hash, request.peer_id,
                                 NO_BYTES, NO_BYTES, record_event, request.left, now)
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
            ustate = UserEntries(self._shard_numbers[self._shard_of_new_user(user)],
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
                self._record_counts[I_TRANSFER] += 1
                lg = self._ledger
                lg["credited_up"] += credited_up
                lg["credited_down"] += credited_down
            else:
                self._record_counts[I_EVENT] += 1
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
