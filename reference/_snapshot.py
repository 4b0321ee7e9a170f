"""Snapshot and restore of the complete tracker state (SPEC.md R8.3).

The document is JSON (see :mod:`._codec` for value encodings)::

    {"format": "privtrak-snapshot", "version": 2, "config": {...},
     "state": "open", "now": 0, "next_gc_at": 180, "next_batch_id": 1,
     "sealed_count": 0,
     "users": [{"user": hex, "shard": n, "cap": n,
                "entries": [{"key": hex, "up": "dec", "down": "dec",
                             "last_seen": t, "completed": false}]}],
     "buffers": [{"shard": n, "first_record_at": t, "records": [...]}],
                 (under batch_scope=global one entry with "shard": null)
     "waiting": [{"batch": {...}, "attempts": n, "not_before": t, "on_path": false}],
     "in_flight": [...same shape...],
     "ledger": {"credited_up": "dec", ...}, "attributed": {"baseline": ["dec", "dec"], ...},
     "counts": {"announces": n, ...}}

``cap`` is the capacity the seed's Go slice of the user's entries would have
(R7.3, ``expiry_panic = abort``); a document without it restores the
capacity a list that never shrank has (``_go_slices.capacity_for``). Only
``abort`` tracks it: under ``complete`` the value is read and checked but
not kept, and a snapshot lists that never-shrank capacity. A tracker whose state the
reference no longer models (after a seed panic under ``abort``) cannot be
snapshotted: :class:`Unmodelled`.

Users and entries are listed in the tracker's internal order, so a restored
tracker visits them in the same order and produces the very same batches as
one that never stopped. In-flight batches stay in flight: their outcome is
the driver's to report, or to give up on with ``reoffer_in_flight``.

Version 2 added the policy key ``batch_scope`` and ``null`` shards (a
global buffer and its batches, SPEC.md R6.8). A version 1 document still
loads: it was written when every batch was a shard batch, so a config
without ``batch_scope`` is read as ``batch_scope: shard``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from ._batching import Pending
from ._codec import JsonObject, Reader, config_to_mapping, encode_batch, encode_record
from ._entries import UserEntries, pack, unpack
from ._errors import Unmodelled
from ._identify import UserIdentifier
from ._results import TrackerState
from ._shard import shard_of
from ._tracker import _LEDGER_FIELDS, ATTRIBUTED_CAUSES, Tracker
from ._types import INFO_HASH_LEN, UINT64_MAX, DeltaRecord, InfoHash, PeerId, Seconds, UserId

FORMAT = "privtrak-snapshot"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def take_snapshot(tracker: Tracker) -> JsonObject:
    """The complete state of ``tracker`` as a JSON-ready document."""
    t = tracker
    b = t._batcher
    if t._state is TrackerState.CRASHED or t._corrupted:
        raise Unmodelled("the seed's state after an expiry panic is not modelled (R7.3); "
                         "it cannot be snapshotted")

    def pending(p: Pending) -> JsonObject:
        return {"batch": encode_batch(p.batch), "attempts": p.attempts,
                "not_before": p.not_before, "on_path": p.on_path}

    return {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_mapping(t._config),
        "state": t._state.value,
        "now": t._now,
        "next_gc_at": t._next_gc_at,
        "next_batch_id": b.next_batch_id,
        "sealed_count": b.sealed_count,
        "users": [
            {"user": uid.hex(), "shard": u.shard, "cap": t._cap_of(uid, u),
             "entries": [_encode_entry(info_hash, peer, packed)
                         for info_hash, peer, packed in t._layout.items(u)]}
            for uid, u in t._users.items()
        ],
        "buffers": [
            {"shard": b.label(index), "first_record_at": b.first_record_at[index],
             "records": [encode_record(r) for r in buf]}
            for index, buf in enumerate(b.buffers) if buf
        ],
        "waiting": [pending(p) for p in b.waiting.values()],
        "in_flight": [pending(p) for _, p in sorted(b.in_flight.items())],
        "ledger": {k: str(v) for k, v in t._ledger.items()},
        "attributed": {c.value: [str(v[0]), str(v[1])] for c, v in t._attributed.items()},
        "counts": t._export_counts(),
    }


def _encode_entry(info_hash: InfoHash, peer: PeerId | None, packed: int) -> JsonObject:
    up, down, last_seen, completed = unpack(packed)
    key = info_hash + peer if peer is not None else info_hash
    return {"key": key.hex(), "up": str(up), "down": str(down), "last_seen": last_seen,
            "completed": completed}


def restore_snapshot(doc: object, identifier: UserIdentifier | None = None) -> Tracker:
    """Rebuild the tracker a snapshot describes.

    Raises :class:`SnapshotError` naming the JSON path of the first problem;
    nothing is returned half-built. Besides each value's type and range, the
    parts must agree with each other as a tracker's own snapshot does: a
    user's shard is the one its id hashes to (R2.3); a buffered or sealed
    record sits in its user's shard's buffer or batch (under ``batch_scope:
    shard``); no time (entry ``last_seen``, record ``time``, buffer
    ``first_record_at``, batch ``sealed_at``) is later than ``now``, and no
    record is later than its batch's ``sealed_at``; batch ids are unique,
    ascending within ``waiting`` and ``in_flight`` and below
    ``next_batch_id``, which is above ``sealed_count`` (ids start at 1); a batch
    in flight has been attempted; a ``closed``
    tracker holds no buffer or batch; a user and, within it, an entry key are
    listed once.
    """
    rd = Reader()
    root = rd.obj(doc, "$")
    if rd.get(root, "format", "$") != FORMAT:
        raise rd.fail("$.format", f"must be {FORMAT!r}")
    version = rd.get(root, "version", "$")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise rd.fail("$.version", f"unsupported version {version!r}; this reader knows "
                      f"{', '.join(map(str, READABLE_VERSIONS))}")
    raw_config = rd.obj(rd.get(root, "config", "$"), "$.config")
    if version == 1:
        if "batch_scope" in raw_config:
            raise rd.fail("$.config.batch_scope", "is not a version 1 key; write version 2")
        # Version 1 knew only shard batches (R6.8).
        raw_config = {**raw_config, "batch_scope": "shard"}
    config = rd.config(raw_config, "$.config")
    now = rd.int_(rd.get(root, "now", "$"), "$.now")
    if now < 0:
        raise rd.fail("$.now", f"must not be negative, got {now}")
    t = Tracker(config, identifier, now=Seconds(now))
    try:
        t._state = TrackerState(rd.get(root, "state", "$"))
    except ValueError:
        raise rd.fail("$.state", "must be open, stopping or closed") from None
    if t._state is TrackerState.CRASHED:
        raise rd.fail("$.state", "must be open, stopping or closed")
    t._next_gc_at = rd.int_(rd.get(root, "next_gc_at", "$"), "$.next_gc_at")
    b = t._batcher
    b.next_batch_id = rd.int_(rd.get(root, "next_batch_id", "$"), "$.next_batch_id")
    b.sealed_count = rd.int_(rd.get(root, "sealed_count", "$"), "$.sealed_count")
    if b.next_batch_id <= b.sealed_count:
        raise rd.fail("$.next_batch_id", f"must be above sealed_count ({b.sealed_count}): "
                      f"batch ids start at 1 and each seal takes a new one, got "
                      f"{b.next_batch_id}")
    layout = t._layout
    key_len = 40 if layout.by_peer else 20
    for i, raw in enumerate(rd.lst(rd.get(root, "users", "$"), "$.users")):
        path = f"$.users[{i}]"
        u_doc = rd.obj(raw, path)
        uid = UserId(rd.hexbytes(rd.get(u_doc, "user", path), f"{path}.user", 16))
        shard = rd.int_(rd.get(u_doc, "shard", path), f"{path}.shard")
        if not 0 <= shard < config.shard_count:
            raise rd.fail(f"{path}.shard", f"must be below shard_count {config.shard_count}")
        if shard != shard_of(uid, config.shard_count):
            raise rd.fail(f"{path}.shard", f"user {uid.hex()} belongs to shard "
                          f"{shard_of(uid, config.shard_count)} (R2.3), not {shard}")
        if uid in t._users:
            raise rd.fail(f"{path}.user", f"user {uid.hex()} is listed twice")
        user = UserEntries(t._shard_numbers[shard], now)
        for j, e_raw in enumerate(rd.lst(rd.get(u_doc, "entries", path), f"{path}.entries")):
            ep = f"{path}.entries[{j}]"
            e_doc = rd.obj(e_raw, ep)
            key = rd.hexbytes(rd.get(e_doc, "key", ep), f"{ep}.key", key_len)
            up = rd.dec(rd.get(e_doc, "up", ep), f"{ep}.up")
            down = rd.dec(rd.get(e_doc, "down", ep), f"{ep}.down")
            last_seen = rd.int_(rd.get(e_doc, "last_seen", ep), f"{ep}.last_seen")
            for name, value in (("up", up), ("down", down)):
                if not 0 <= value <= UINT64_MAX:
                    raise rd.fail(f"{ep}.{name}", "must be within 0..2**64-1")
            if not 0 <= last_seen <= now:
                raise rd.fail(f"{ep}.last_seen", f"must be within 0..now ({now})")
            info_hash = t._intern(InfoHash(key[:INFO_HASH_LEN]))
            peer = PeerId(key[INFO_HASH_LEN:]) if layout.by_peer else None
            if layout.get(user, info_hash, peer) is not None:
                raise rd.fail(f"{ep}.key", "is listed twice for this user")
            if user.peer is None:
                user.peer = peer  # the home peer (see ._entries): the first one listed
            layout.put(user, info_hash, peer, pack(
                up, down, last_seen, rd.bool_(rd.get(e_doc, "completed", ep), f"{ep}.completed")))
        user.oldest = min((unpack(e)[2] for _, _, e in layout.items(user)), default=now)
        if "cap" in u_doc:
            cap = rd.int_(u_doc["cap"], f"{path}.cap")
            held = layout.count(user)
            if cap < held:
                raise rd.fail(f"{path}.cap", f"must hold the {held} entries")
            if t._abort_on_panic:
                t._set_cap(uid, user, cap)
        t._users[uid] = user
        t._entry_count += layout.count(user)
    for i, raw in enumerate(rd.lst(rd.get(root, "buffers", "$"), "$.buffers")):
        path = f"$.buffers[{i}]"
        buf_doc = rd.obj(raw, path)
        buf_shard = rd.shard(rd.get(buf_doc, "shard", path), f"{path}.shard")
        if b.global_scope and buf_shard is not None:
            raise rd.fail(f"{path}.shard", "must be null: batch_scope is global, so the only "
                          "buffer is the global one")
        if not b.global_scope and (buf_shard is None or buf_shard >= config.shard_count):
            raise rd.fail(f"{path}.shard", f"must be an integer below shard_count "
                          f"{config.shard_count} under batch_scope shard, got {buf_shard!r}")
        index = b.buffer_index(buf_shard)
        if b.buffers[index]:
            raise rd.fail(f"{path}.shard", f"buffer {buf_shard!r} is listed twice")
        records = [rd.record(r, f"{path}.records[{j}]")
                   for j, r in enumerate(rd.lst(rd.get(buf_doc, "records", path),
                                                f"{path}.records"))]
        since = rd.int_(rd.get(buf_doc, "first_record_at", path), f"{path}.first_record_at")
        if not records:
            raise rd.fail(f"{path}.records", "must not be empty: empty buffers are not listed")
        if since > now:
            raise rd.fail(f"{path}.first_record_at", f"{since} is later than now ({now})")
        _check_records(rd, records, f"{path}.records", shard=buf_shard, latest=now,
                       latest_name="now", shard_count=config.shard_count)
        b.buffers[index] = records
        b.first_record_at[index] = since
        b.buffered_records += len(records)
        heapq.heappush(b._age_heap, (since, index))
    for name, target in (("waiting", b.waiting), ("in_flight", b.in_flight)):
        for i, raw in enumerate(rd.lst(rd.get(root, name, "$"), f"$.{name}")):
            path = f"$.{name}[{i}]"
            p_doc = rd.obj(raw, path)
            batch = rd.batch(rd.get(p_doc, "batch", path), f"{path}.batch")
            if (batch.shard is None) != b.global_scope or (
                    batch.shard is not None and batch.shard >= config.shard_count):
                want = ("null (batch_scope global)" if b.global_scope else
                        f"an integer below shard_count {config.shard_count} (batch_scope shard)")
                raise rd.fail(f"{path}.batch.shard", f"must be {want}, got {batch.shard!r}")
            batch_id = batch.batch_id
            if batch_id >= b.next_batch_id:
                raise rd.fail(f"{path}.batch.batch_id", f"{batch_id} is not below "
                              f"next_batch_id ({b.next_batch_id}): no such batch was sealed")
            if batch_id in b.waiting or batch_id in b.in_flight:
                raise rd.fail(f"{path}.batch.batch_id", f"batch {batch_id} is listed twice")
            if target and batch_id < max(target):
                raise rd.fail(f"{path}.batch.batch_id", f"{batch_id} is out of order: "
                              f"{name} lists batches by ascending id")
            if batch.sealed_at > now:
                raise rd.fail(f"{path}.batch.sealed_at",
                              f"{batch.sealed_at} is later than now ({now})")
            _check_records(rd, batch.records, f"{path}.batch.records", shard=batch.shard,
                           latest=batch.sealed_at, latest_name="the batch's sealed_at",
                           shard_count=config.shard_count)
            attempts = rd.int_(rd.get(p_doc, "attempts", path), f"{path}.attempts")
            least = 1 if name == "in_flight" else 0
            if attempts < least:
                raise rd.fail(f"{path}.attempts", f"must be at least {least}, got {attempts}")
            target[batch_id] = Pending(
                batch,
                attempts,
                rd.int_(rd.get(p_doc, "not_before", path), f"{path}.not_before"),
                rd.bool_(rd.get(p_doc, "on_path", path), f"{path}.on_path"),
            )
            b.sealed_records += len(batch.records)
    if t._state is TrackerState.CLOSED:
        for name, held in (("buffers", b.buffered_records), ("waiting", len(b.waiting)),
                           ("in_flight", len(b.in_flight))):
            if held:
                raise rd.fail(f"$.{name}", "must be empty: a closed tracker has settled "
                              "every record and batch (R8.2)")
    ledger = rd.obj(rd.get(root, "ledger", "$"), "$.ledger")
    for field in _LEDGER_FIELDS:
        t._ledger[field] = rd.dec(rd.get(ledger, field, "$.ledger"), f"$.ledger.{field}")
    attributed = rd.obj(rd.get(root, "attributed", "$"), "$.attributed")
    for cause in ATTRIBUTED_CAUSES:
        pair = rd.lst(rd.get(attributed, cause.value, "$.attributed"), f"$.attributed.{cause}")
        if len(pair) != 2:
            raise rd.fail(f"$.attributed.{cause}", "must be [up, down]")
        t._attributed[cause] = [rd.dec(pair[0], f"$.attributed.{cause}[0]"),
                                rd.dec(pair[1], f"$.attributed.{cause}[1]")]
    counts: Any = rd.obj(rd.get(root, "counts", "$"), "$.counts")
    t._import_counts({str(k): rd.int_(v, f"$.counts.{k}") for k, v in counts.items()})
    return t


def _check_records(rd: Reader, records: Sequence[DeltaRecord], path: str, *,
                   shard: int | None, latest: int, latest_name: str, shard_count: int) -> None:
    """Refuse a record later than ``latest`` or, for a shard's buffer or batch
    (``shard`` not ``None``), a record of a user of another shard."""
    for j, record in enumerate(records):
        if record.time > latest:
            raise rd.fail(f"{path}[{j}].time",
                          f"{record.time} is later than {latest_name} ({latest})")
        if shard is not None:
            home = shard_of(record.user, shard_count)
            if home != shard:
                raise rd.fail(f"{path}[{j}].user", f"user {record.user.hex()} belongs to "
                              f"shard {home} (R2.3), not to shard {shard} whose records "
                              "these are")
