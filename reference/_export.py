"""A tracker's complete state as plain values, and a tracker built from them.

:meth:`StateExport.export_state` copies everything a tracker holds into a
:class:`TrackerExport`; :meth:`StateExport.from_export` builds a tracker of
the class it is called on (a subclass keeps its extension points, see
:class:`~._tracker.Tracker`) holding exactly that state. The snapshot
format (:mod:`._snapshot`) is a JSON encoding of these values; the
conversion and the checks of a document's parts against each other live
there, the invariants of the tracker's own storage here.

Entries are listed in the tracker's internal order, so a tracker built
from an export visits them in the same order, and produces the very same
batches, as the one that was exported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from ._batching import BatcherState
from ._config import Config
from ._entries import UserEntries, pack, unpack
from ._errors import Unmodelled, UsageError
from ._identify import UserIdentifier
from ._results import TrackerState
from ._tracker_base import ATTRIBUTED_CAUSES, KINDS, LEDGER_FIELDS, OUTCOMES, TrackerBase
from ._types import UINT64_MAX, Cause, InfoHash, PeerId, Seconds, UserId


@dataclass(frozen=True, slots=True)
class EntryState:
    """One stored baseline."""

    info_hash: InfoHash
    peer_id: PeerId | None
    """``None`` unless the tracker keys baselines by peer (``user_torrent_peer``)."""
    up: int
    down: int
    last_seen: int
    completed: bool


@dataclass(frozen=True, slots=True)
class UserState:
    """One user's baselines, in the tracker's order."""

    user: UserId
    shard: int
    cap: int | None
    """The Go slice capacity of the seed's list of the user's entries (R7.3);
    ``None``: the capacity of a list that never shrank."""
    entries: tuple[EntryState, ...]


@dataclass(frozen=True, slots=True)
class TrackerExport:
    """Everything a tracker holds, as plain values (copies)."""

    config: Config
    state: TrackerState
    now: Seconds
    next_gc_at: Seconds
    users: tuple[UserState, ...]
    batcher: BatcherState
    ledger: Mapping[str, int]
    """Every field of ``LEDGER_FIELDS``, in that order."""
    attributed: Mapping[Cause, tuple[int, int]]
    """(up, down) for every cause of ``ATTRIBUTED_CAUSES``, in that order."""
    counts: Mapping[str, int]
    """Every counter, by name, sorted by name; absent counters are zero."""


class StateExport(TrackerBase):
    """Export and import of the whole state; see the module docstring."""

    def export_state(self) -> TrackerExport:
        """A copy of the whole state. Raises :class:`Unmodelled` after a seed panic
        under ``expiry_panic = abort``: that state is not modelled (R7.3)."""
        if self._state is TrackerState.CRASHED or self._corrupted:
            raise Unmodelled("the seed's state after an expiry panic is not modelled (R7.3); "
                             "it cannot be exported or snapshotted")
        users = tuple(
            UserState(uid, u.shard, self._cap_of(uid, u), tuple(
                EntryState(info_hash, peer, *unpack(packed))
                for info_hash, peer, packed in self._layout.items(u)))
            for uid, u in self._users.items())
        return TrackerExport(
            config=self._config, state=self._state, now=self._now,
            next_gc_at=Seconds(self._next_gc_at), users=users, batcher=self._batcher.export(),
            ledger=dict(self._ledger),
            attributed={c: (v[0], v[1]) for c, v in self._attributed.items()},
            counts=self._export_counts())

    def _export_counts(self) -> dict[str, int]:
        counts = dict(self._counts)
        counts.update(("outcome." + o.value, n) for o, n in zip(OUTCOMES, self._outcome_counts,
                                                                  strict=True))
        counts.update(("record." + k.value, n) for k, n in zip(KINDS, self._record_counts,
                                                                 strict=True))
        return dict(sorted(counts.items()))

    @classmethod
    def from_export(cls, export: TrackerExport,
                    identifier: UserIdentifier | None = None) -> Self:
        """A tracker of this class holding exactly ``export``'s state.

        Raises :class:`UsageError` (and builds nothing) if the state breaks the
        tracker's own invariants: a crashed state, a user or an entry listed
        twice, a shard out of range, a peer id that does not fit the keying,
        a counter outside 0..2**64-1, a ``cap`` below the entry count, a missing
        ledger field or cause; and those of :meth:`Batcher.load`. Whether the
        parts agree with each other (a user's shard is its hash's, times are
        not later than ``now``) is the snapshot reader's to check.
        """
        if export.state is TrackerState.CRASHED:
            raise UsageError("a crashed tracker's state is not modelled (R7.3)")
        tracker = cls(export.config, identifier, now=export.now)
        tracker._load(export)
        return tracker

    def _load(self, export: TrackerExport) -> None:
        """Take over ``export`` on a tracker just built with its config and ``now``."""
        self._state = export.state
        self._next_gc_at = export.next_gc_at
        for user in export.users:
            self._load_user(user)
        self._batcher.load(export.batcher)
        missing = [f for f in LEDGER_FIELDS if f not in export.ledger]
        if missing:
            raise UsageError(f"ledger fields {missing} are missing")
        self._ledger = {f: export.ledger[f] for f in LEDGER_FIELDS}
        causes = [c for c in ATTRIBUTED_CAUSES if c not in export.attributed]
        if causes:
            raise UsageError(f"attributed causes {causes} are missing")
        self._attributed = {c: list(export.attributed[c]) for c in ATTRIBUTED_CAUSES}
        rest = dict(export.counts)
        self._outcome_counts = [rest.pop("outcome." + o.value, 0) for o in OUTCOMES]
        self._record_counts = [rest.pop("record." + k.value, 0) for k in KINDS]
        self._counts = Counter(rest)

    def _load_user(self, state: UserState) -> None:
        uid = state.user
        if uid in self._users:
            raise UsageError(f"user {uid.hex()} is listed twice")
        if not 0 <= state.shard < self._config.shard_count:
            raise UsageError(f"user {uid.hex()}: shard {state.shard} is not below "
                             f"shard_count {self._config.shard_count}")
        layout = self._layout
        user = UserEntries(self._shard_numbers[state.shard], self._now)
        for e in state.entries:
            if (e.peer_id is not None) != layout.by_peer:
                raise UsageError(f"user {uid.hex()}: an entry's peer id must be "
                                 f"{'given' if layout.by_peer else 'None'} under this keying")
            if not (0 <= e.up <= UINT64_MAX and 0 <= e.down <= UINT64_MAX):
                raise UsageError(f"user {uid.hex()}: counters {e.up}, {e.down} are outside "
                                 "0..2**64-1")
            info_hash = self._intern(e.info_hash)
            if layout.get(user, info_hash, e.peer_id) is not None:
                raise UsageError(f"user {uid.hex()}: entry {e.info_hash.hex()} "
                                 f"{(e.peer_id or b'').hex()} is listed twice")
            if user.peer is None:
                user.peer = e.peer_id  # the home peer (see ._entries): the first one listed
            layout.put(user, info_hash, e.peer_id, pack(e.up, e.down, e.last_seen, e.completed))
        user.oldest = min((e.last_seen for e in state.entries), default=self._now)
        held = layout.count(user)
        if state.cap is not None:
            if state.cap < held:
                raise UsageError(f"user {uid.hex()}: cap {state.cap} cannot hold its {held} "
                                 "entries")
            if self._abort_on_panic:
                self._set_cap(uid, user, state.cap)
        self._users[uid] = user
        self._entry_count += held
