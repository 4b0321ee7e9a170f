"""Stale entries: purges on the announce path and in garbage collection (SPEC.md R7).

A mixin of :class:`~._tracker.Tracker` over :class:`~._tracker_base.TrackerBase`.
Under ``expiry_panic = abort`` (R7.3) a purge may meet the seed's expiry
panic; the user's list is then left as Go leaves it (see :mod:`._go_slices`).
"""

from __future__ import annotations

from ._entries import SEEN_SHIFT, UserEntries
from ._errors import Unmodelled, UsageError
from ._go_slices import Change, after_announce_panic, after_gc_panic
from ._results import GcResult, TrackerState
from ._tracker_base import I_PURGE, NO_BYTES, TrackerBase, check_time
from ._types import DeltaRecord, Event, InfoHash, PeerId, RecordKind, Seconds, UserId


class TrackerPurge(TrackerBase):
    """Dropping stale entries (R7); see the module docstring."""

    def _drop_entry(self, user: UserId, ustate: UserEntries, info_hash: InfoHash,
                    peer: PeerId | None, now: Seconds) -> None:
        """Remove one stale entry, emitting its purge record if the policy says so."""
        self._layout.remove(ustate, info_hash, peer)
        self._entry_count -= 1
        self._counts["purged"] += 1
        if self._purge_records:
            self._record_counts[I_PURGE] += 1
            buffered = self._batcher.append(ustate.shard, DeltaRecord(
                RecordKind.PURGE, user, info_hash, peer, NO_BYTES, NO_BYTES, Event.NONE, None,
                now), now)
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
        check_time(now, self._now)
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

