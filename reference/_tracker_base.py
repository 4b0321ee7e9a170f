"""The state a :class:`~._tracker.Tracker` holds, and the helpers every part of it uses.

:class:`TrackerBase` builds the state and derives the hot-path settings
from the configuration; the parts of the tracker are mixins over it, each
in its own module:

* :mod:`._tracker`: :class:`~._tracker.Tracker` itself and the announce
  hot path (R0 to R7.1, in the order an announce meets them);
* :mod:`._purge`: stale entries, on the announce path and in garbage
  collection (R7), with the seed's expiry panic (R7.3);
* :mod:`._delivery`: handing out batches, their outcomes, backoff,
  deadlines, stop and close (R6.2 to R6.6, R8);
* :mod:`._views`: the read-only views (entries, buffers, ledger, metrics);
* :mod:`._export`: the whole state as plain values and back (snapshots).

Everything here is the tracker's own: other modules use the tracker's
public methods, or, for snapshots, :meth:`~._export.StateExport.export_state`
and :meth:`~._export.StateExport.from_export`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import ClassVar

from ._batching import Batcher
from ._config import Config
from ._entries import (
    PEER_KEYED,
    TORRENT_KEYED,
    InfoHashTable,
    UserEntries,
)
from ._errors import Unmodelled, UsageError
from ._go_slices import capacity_for, grown_capacity
from ._identify import PasskeyIdentifier, UserIdentifier
from ._policy import (
    BaselineKey,
    CounterDecrease,
    CounterLimit,
    ExpiryPanic,
    FlushPath,
    StaleOnAnnounce,
    StartedOnKnown,
    StoppedUnknown,
)
from ._results import AnnounceResult, TrackerState
from ._shard import shard_of
from ._types import (
    INFO_HASH_LEN,
    INT64_MAX,
    ByteCount,
    Cause,
    InfoHash,
    Outcome,
    PeerId,
    RecordKind,
    RejectCode,
    Seconds,
    UserId,
)

_UINT64 = 1 << 64

OUTCOMES = tuple(Outcome)
"""Every outcome, in the order of the tracker's outcome counters."""
KINDS = tuple(RecordKind)
"""Every record kind, in the order of the tracker's record counters."""
(I_BASELINE, I_CREDITED, I_RESET, I_STOPPED, I_STOPPED_UNKNOWN, I_EXPIRED,
 I_REJECTED) = (OUTCOMES.index(o) for o in (
    Outcome.BASELINE, Outcome.CREDITED, Outcome.RESET, Outcome.STOPPED,
    Outcome.STOPPED_UNKNOWN, Outcome.EXPIRED, Outcome.REJECTED))
I_TRANSFER, I_EVENT, I_PURGE = (KINDS.index(k) for k in (
    RecordKind.TRANSFER, RecordKind.EVENT, RecordKind.PURGE))

ATTRIBUTED_CAUSES = (Cause.BASELINE, Cause.RESET, Cause.PURGE_GAP)
"""The causes the core itself attributes; the others belong to drivers."""

LEDGER_FIELDS = ("credited_up", "credited_down", "delivered_up", "delivered_down",
                 "dropped_up", "dropped_down", "returned_up", "returned_down")
"""The byte totals the tracker keeps (R11), in ledger order."""


NO_BYTES = ByteCount(0)
"""Zero bytes, for records and results that carry no transfer."""


def wrap_int64(value: int) -> int:
    """The seed's ``int64(uint64(a) - uint64(b))``: reduce to the signed 64-bit range."""
    value %= _UINT64
    return value - _UINT64 if value > INT64_MAX else value


def check_time(now: object, previous: int) -> Seconds:
    """``now`` if it is an int not below ``previous``; else :class:`UsageError` (R0)."""
    if type(now) is not int:
        raise UsageError(f"now must be whole seconds as an int, got {now!r}")
    if now < previous:
        raise UsageError(f"now went backwards: {now} < {previous}; the driver's clock "
                         "must not decrease")
    return Seconds(now)


class TrackerBase:
    """The tracker's state and shared helpers; see the module docstring.

    The extension points a subclass may override are listed in
    :class:`~._tracker.Tracker`'s docstring and in :attr:`EXTENSION_POINTS`.
    """

    batcher_class: ClassVar[type[Batcher]] = Batcher
    """The class of the tracker's buffers and batches (an extension point)."""

    EXTENSION_POINTS: ClassVar[tuple[str, ...]] = (
        "batcher_class", "_configure_hot_path", "_shard_of_new_user", "_wrap_int64",
        "_purge_user", "_backoff")
    """The non-public names a subclass may override (``Tracker`` docstring)."""

    HOT_PATH_SETTINGS: ClassVar[tuple[str, ...]] = (
        "_key_by_peer", "_layout", "_reset_on_decrease", "_reset_on_started",
        "_ignore_unknown_stop", "_expire_stale", "_reject_big", "_on_path", "_event_records",
        "_purge_on_announce", "_purge_records", "_abort_on_panic", "_batch_size", "_lifetime",
        "_max_pending")
    """The attributes :meth:`_configure_hot_path` derives from the configuration and
    the rest of the tracker reads instead of it; an override may change them."""

    SUBCLASS_STATE: ClassVar[tuple[str, ...]] = (
        "_config", "_state", "_now", "_users", "_batcher", "_counts", "_record_counts",
        "_entry_count", "_intern")
    """The non-public state an override may read and change (``Tracker``
    docstring); a subclass that keeps these consistent keeps the tracker's
    invariants."""

    def __init__(self, config: Config | None = None,
                 identifier: UserIdentifier | None = None, *,
                 now: Seconds = Seconds(0)) -> None:
        self._config = config if config is not None else Config()
        self._identifier: UserIdentifier = (
            identifier if identifier is not None else PasskeyIdentifier())
        self._state = TrackerState.OPEN
        self._now = check_time(now, 0)
        self._next_gc_at = now + self._config.gc_interval
        # The storage layout of the entries is described in ._entries.
        self._users: dict[UserId, UserEntries] = {}
        self._entry_count = 0
        self._info_hashes = InfoHashTable()
        self._shard_numbers = tuple(range(self._config.shard_count))
        self._batcher = self.batcher_class(self._config.shard_count,
                                           self._config.policy.batch_scope)
        self._ledger: dict[str, int] = dict.fromkeys(LEDGER_FIELDS, 0)
        self._attributed: dict[Cause, list[int]] = {c: [0, 0] for c in ATTRIBUTED_CAUSES}
        self._counts: Counter[str] = Counter()
        # Hot counters are lists indexed by OUTCOMES / KINDS positions:
        # hashing an enum member costs a Python-level call on every announce.
        self._outcome_counts = [0] * len(OUTCOMES)
        self._record_counts = [0] * len(KINDS)
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
        """Derive :attr:`HOT_PATH_SETTINGS` (and the announce's time caches) from
        the configuration. An override calls this first, then changes settings."""
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

    def _shard_of_new_user(self, user: UserId) -> int:
        """The shard of a user the tracker holds nothing for (R2.3); an extension point."""
        return shard_of(user, self._config.shard_count)

    def _wrap_int64(self, value: int) -> int:
        """A credit outside the int64 range, wrapped as the seed does (R9.1); an
        extension point. Called only for values outside the range."""
        return wrap_int64(value)

    # -- life cycle -------------------------------------------------------------

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

    def _check_alive(self) -> None:
        if self._state is TrackerState.CRASHED:
            raise Unmodelled("the seed's process died in a GC panic (R7.3 abort); nothing "
                             "after it is modelled")

    def _reject(self, code: RejectCode, message: str) -> AnnounceResult:
        self._outcome_counts[I_REJECTED] += 1
        self._counts["reject." + code] += 1
        return AnnounceResult(Outcome.REJECTED, None, None, NO_BYTES, NO_BYTES, None, NO_BYTES,
                              NO_BYTES, None, code,
                              message, False)

    def _seal_all(self, now: Seconds) -> list[int]:
        return self._batcher.seal_all(now)

    # -- stored entries -----------------------------------------------------------

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
