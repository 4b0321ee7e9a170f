"""Purging stale entries (SPEC R7 to R7.4) and the seed's expiry crash.

The seed's crash (R7.3 ``abort``) is replayed with the shared pure helpers
of ``privtrak.reference._go_slices``, which move Go slice elements the way
Go's ``append`` does; the model hands them each entry as ``(key bytes,
index into a table of Stored values)`` and maps the result back.
"""

from __future__ import annotations

from collections.abc import Iterable

from privtrak.reference import (
    ByteCount,
    DeltaRecord,
    Event,
    ExpiryPanic,
    RecordKind,
    Seconds,
    TrackerState,
    UserId,
)
from privtrak.reference._go_slices import (
    Change,
    after_announce_panic,
    after_gc_panic,
    grown_capacity,
)

from .batches import append_record, buffer_of, pending_count, seal_when_filled, shard_of
from .state import Key, ModelState, Stored


def key_bytes(key: Key) -> bytes:
    """R7.3: the seed sorts a user's entries by infohash, then peer id (bytes)."""
    return key[1] + (key[2] or b"")


def user_keys(m: ModelState, user: UserId) -> list[Key]:
    """R2.2, R7.3: the keys of ``user``'s stored baselines, in the seed's key
    order (infohash, then peer id)."""
    return sorted((k for k in m.stored if k[0] == user), key=key_bytes)


def is_stale(m: ModelState, stored: Stored, now: Seconds) -> bool:
    """R7: an entry is stale when ``last_seen < now - peer_lifetime`` (one
    exactly ``peer_lifetime`` old survives)."""
    return stored.last_seen < now - m.config.peer_lifetime


def aborts(m: ModelState) -> bool:
    """R7.3: whether the seed's crash is reproduced (``expiry_panic = abort``)."""
    return m.config.policy.expiry_panic is ExpiryPanic.ABORT


def note_inserted(m: ModelState, user: UserId) -> None:
    """R7.3 ``abort``: an insert into a full Go slice grows its capacity as
    ``append`` does (1, then doubling)."""
    if aborts(m):
        cap = m.go_capacity.get(user, 0)
        if len(user_keys(m, user)) > cap:
            m.go_capacity[user] = grown_capacity(cap)


def forget_user_if_empty(m: ModelState, user: UserId) -> None:
    """R5.1, R7: a user exists while it has at least one entry."""
    if not user_keys(m, user) and user not in m.corrupted:
        m.go_capacity.pop(user, None)


def remove_stale_entry(m: ModelState, key: Key, now: Seconds) -> None:
    """R7, R7.4: a stale entry is removed; under ``purge_records`` it appends
    a ``purge`` record ``(kind=purge, user, info_hash, peer_id or None, 0, 0,
    none, left=None, time=now)`` to its user's buffer (sealed at once off the
    announce path when it fills it, R6.1)."""
    del m.stored[key]
    m.counters["purged_entries"] += 1
    if m.config.policy.purge_records:
        user, info_hash, peer = key
        buffer = buffer_of(m, user)
        append_record(m, buffer, DeltaRecord(RecordKind.PURGE, user, info_hash, peer,
                                             ByteCount(0), ByteCount(0), Event.NONE, None,
                                             now))
        seal_when_filled(m, buffer, now)


def seed_would_panic(m: ModelState, keys: list[Key], now: Seconds) -> bool:
    """R7.3: the seed's loop panics exactly when some stale entry is not the
    last entry of the user in key order."""
    stale = [k for k in keys if is_stale(m, m.stored[k], now)]
    return bool(stale) and stale[0] != keys[-1]


def purge_user(m: ModelState, user: UserId, now: Seconds) -> bool:
    """R7, R7.3 ``complete``, R6.7: remove every stale entry of ``user`` in key
    order, deferring a purge whose record would exceed ``max_pending``
    (counted in ``purges_deferred``); returns whether the seed would panic."""
    keys = user_keys(m, user)
    panic = seed_would_panic(m, keys, now)
    if panic:
        m.counters["seed_panics"] += 1
    for key in keys:
        if not is_stale(m, m.stored[key], now):
            continue
        if (m.config.policy.purge_records and m.config.max_pending is not None
                and pending_count(m) >= m.config.max_pending):
            m.counters["purges_deferred"] += 1
            continue
        remove_stale_entry(m, key, now)
    forget_user_if_empty(m, user)
    return panic


def users_in_gc_order(m: ModelState) -> list[UserId]:
    """R7: GC visits users in ascending id order; R7.3 ``abort``: the seed
    walks shards in index order (users by id inside a shard here)."""
    users = sorted({k[0] for k in m.stored})
    if aborts(m):
        users.sort(key=lambda u: shard_of(m, u))
    return users


# -- R7.3 abort: what Go leaves behind -------------------------------------------------


def _as_slots(items: Iterable[tuple[Key, Stored]], table: list[tuple[Key, Stored]]
              ) -> list[tuple[bytes, int]]:
    """Entries as Go slice elements: key bytes and an index into ``table``."""
    slots = []
    for key, stored in items:
        table.append((key, Stored(stored.up, stored.down, stored.last_seen, stored.completed)))
        slots.append((key_bytes(key), len(table) - 1))
    return slots


def keep_corrupted_list(m: ModelState, user: UserId, view: list[tuple[bytes, int]],
                        table: list[tuple[Key, Stored]]) -> None:
    """R7.3 ``abort``: the user's list is what Go left (duplicates included);
    it replaces the user's baselines and marks the user corrupted."""
    for key in user_keys(m, user):
        del m.stored[key]
    m.corrupted[user] = [table[index] for _, index in view]
    m.counters["seed_panics"] += 1


def gc_panics_on(m: ModelState, user: UserId, now: Seconds) -> bool:
    """R7.3 ``abort`` in GC: if the seed's loop panics on ``user``, nothing of
    the user is removed and its list is the shifted array at the old length;
    the process dies (``CRASHED``). Returns whether it panicked."""
    keys = user_keys(m, user)
    if not seed_would_panic(m, keys, now):
        return False
    table: list[tuple[Key, Stored]] = []
    before = _as_slots(((k, m.stored[k]) for k in keys), table)
    stale = {key_bytes(k) for k in keys if is_stale(m, m.stored[k], now)}
    keep_corrupted_list(m, user, after_gc_panic(before, stale), table)
    m.state = TrackerState.CRASHED
    return True


def announce_panics(m: ModelState, user: UserId, key: Key, before: list[tuple[Key, Stored]],
                    *, before_cap: int, now: Seconds) -> bool:
    """R7.3 ``abort`` on the announce path: if the seed's loop panics over the
    announcing user's entries, the map keeps the old slice header over the
    array the announce's update and the loop shifted in place (an insert into
    a full slice reallocates, so the old list survives); the capacity stays
    the old one. Returns whether it panicked."""
    keys = user_keys(m, user)
    if not seed_would_panic(m, keys, now):
        return False
    stale = {key_bytes(k) for k in keys if is_stale(m, m.stored[k], now)}
    table: list[tuple[Key, Stored]] = []
    old = _as_slots(sorted(before, key=lambda item: key_bytes(item[0])), table)
    was = any(k == key for k, _ in before)
    is_now = key in m.stored
    if was or is_now:
        change = (Change.UPDATE if was and is_now else Change.REMOVE if was
                  else Change.INSERT)
        index = len(table)
        if is_now:
            table.append((key, m.stored[key]))
        view = after_announce_panic(old, before_cap, change, key_bytes(key), index,
                                    stale=stale)
    else:
        view = after_gc_panic(old, stale)
    keep_corrupted_list(m, user, view, table)
    m.go_capacity[user] = before_cap
    return True
