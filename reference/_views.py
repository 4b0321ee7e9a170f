"""The read-only views of a tracker: entries, buffers, batches, ledger, metrics.

A mixin of :class:`~._tracker.Tracker` over :class:`~._tracker_base.TrackerBase`.
Every view is a copy: changing it does not change the tracker.

Reading buffers: :meth:`TrackerViews.buffered_records` with no argument (or
``None``) returns every buffered record, the global buffer's under
``global``; with a shard number, that shard's records only (under
``global``, the global buffer's records of that shard's users).
"""

from __future__ import annotations

from ._entries import unpack
from ._errors import UsageError
from ._results import EntryView, Ledger, Metrics
from ._tracker_base import KINDS, OUTCOMES, TrackerBase
from ._types import Batch, ByteCount, DeltaRecord, InfoHash, PeerId, RejectCode, UserId


class TrackerViews(TrackerBase):
    """What a tracker holds and has counted, read-only; see the module docstring."""

    def shard_of(self, user: UserId) -> int:
        """The shard that buffers ``user``'s records (R2.3)."""
        state = self._users.get(user)
        return state.shard if state is not None else self._shard_of_new_user(user)

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
            outcomes={o.value: n for o, n in zip(OUTCOMES, self._outcome_counts, strict=True)},
            rejected={r.value: c["reject." + r.value] for r in RejectCode},
            records={k.value: n for k, n in zip(KINDS, self._record_counts, strict=True)},
            batches_sealed=b.sealed_count,
            batches_delivered=c["batches_delivered"], batches_failed=c["batches_failed"],
            records_delivered=c["records_delivered"], purged_entries=c["purged"],
            purges_deferred=c["purges_deferred"], gc_runs=c["gc_runs"],
            gc_entries_scanned=c["gc_scanned"], seed_panics=c["seed_panics"],
        )

