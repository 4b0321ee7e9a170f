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

from collections.abc import Mapping, Sequence
from typing import Any

from ._batching import BatcherState, BufferState, Pending
from ._codec import JsonObject, Reader, config_to_mapping, encode_batch, encode_record
from ._errors import UsageError
from ._export import EntryState, TrackerExport, UserState
from ._identify import UserIdentifier
from ._policy import BaselineKey, BatchScope
from ._results import TrackerState
from ._shard import shard_of
from ._tracker import Tracker
from ._tracker_base import ATTRIBUTED_CAUSES, LEDGER_FIELDS
from ._types import (
    INFO_HASH_LEN,
    UINT64_MAX,
    Cause,
    DeltaRecord,
    InfoHash,
    PeerId,
    RecordKind,
    Seconds,
    UserId,
)

FORMAT = "privtrak-snapshot"
VERSION = 2
READABLE_VERSIONS = (1, 2)

RECORD_COUNTS = tuple("record." + kind.value for kind in RecordKind)
"""The counters of records emitted, one per kind (``$.counts``)."""


def take_snapshot(tracker: Tracker) -> JsonObject:
    """The complete state of ``tracker`` as a JSON-ready document.

    Raises :class:`Unmodelled` for a tracker whose state the reference no
    longer models (after a seed panic under ``expiry_panic = abort``)."""
    x = tracker.export_state()
    b = x.batcher

    def pending(p: Pending) -> JsonObject:
        return {"batch": encode_batch(p.batch), "attempts": p.attempts,
                "not_before": p.not_before, "on_path": p.on_path}

    return {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_mapping(x.config),
        "state": x.state.value,
        "now": x.now,
        "next_gc_at": x.next_gc_at,
        "next_batch_id": b.next_batch_id,
        "sealed_count": b.sealed_count,
        "users": [
            {"user": u.user.hex(), "shard": u.shard, "cap": u.cap,
             "entries": [_encode_entry(e) for e in u.entries]}
            for u in x.users
        ],
        "buffers": [
            {"shard": buf.shard, "first_record_at": buf.first_record_at,
             "records": [encode_record(r) for r in buf.records]}
            for buf in b.buffers
        ],
        "waiting": [pending(p) for p in b.waiting],
        "in_flight": [pending(p) for p in b.in_flight],
        "ledger": {k: str(v) for k, v in x.ledger.items()},
        "attributed": {c.value: [str(v[0]), str(v[1])] for c, v in x.attributed.items()},
        "counts": dict(x.counts),
    }


def _encode_entry(e: EntryState) -> JsonObject:
    key = e.info_hash + e.peer_id if e.peer_id is not None else e.info_hash
    return {"key": key.hex(), "up": str(e.up), "down": str(e.down), "last_seen": e.last_seen,
            "completed": e.completed}


def restore_snapshot(doc: object, identifier: UserIdentifier | None = None,
                     tracker_class: type[Tracker] = Tracker) -> Tracker:
    """Rebuild the tracker a snapshot describes, as an instance of ``tracker_class``
    (a :class:`Tracker` subclass keeps its extension points).

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
    listed once; unless ``closed``, the records emitted (``counts``
    ``record.*``) less those delivered (``records_delivered``) are the records
    the snapshot holds in buffers and batches.
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
    try:
        state = TrackerState(rd.get(root, "state", "$"))
    except ValueError:
        raise rd.fail("$.state", "must be open, stopping or closed") from None
    if state is TrackerState.CRASHED:
        raise rd.fail("$.state", "must be open, stopping or closed")
    next_gc_at = rd.int_(rd.get(root, "next_gc_at", "$"), "$.next_gc_at")
    next_batch_id = rd.int_(rd.get(root, "next_batch_id", "$"), "$.next_batch_id")
    sealed_count = rd.int_(rd.get(root, "sealed_count", "$"), "$.sealed_count")
    if next_batch_id <= sealed_count:
        raise rd.fail("$.next_batch_id", f"must be above sealed_count ({sealed_count}): "
                      f"batch ids start at 1 and each seal takes a new one, got "
                      f"{next_batch_id}")
    by_peer = config.policy.baseline_key is BaselineKey.USER_TORRENT_PEER
    users = _read_users(rd, rd.lst(rd.get(root, "users", "$"), "$.users"), now=now,
                        shard_count=config.shard_count, by_peer=by_peer)
    global_scope = config.policy.batch_scope is BatchScope.GLOBAL
    buffers = _read_buffers(rd, rd.lst(rd.get(root, "buffers", "$"), "$.buffers"), now=now,
                            shard_count=config.shard_count, global_scope=global_scope)
    seen_ids: set[int] = set()
    waiting, in_flight = (
        _read_pending(rd, name, rd.lst(rd.get(root, name, "$"), f"$.{name}"), seen_ids,
                      now=now, next_batch_id=next_batch_id, shard_count=config.shard_count,
                      global_scope=global_scope)
        for name in ("waiting", "in_flight"))
    held = (sum(len(buf.records) for buf in buffers)
            + sum(len(p.batch.records) for p in (*waiting, *in_flight)))
    if state is TrackerState.CLOSED:
        for name, listed in (("buffers", buffers), ("waiting", waiting),
                             ("in_flight", in_flight)):
            if listed:
                raise rd.fail(f"$.{name}", "must be empty: a closed tracker has settled "
                              "every record and batch (R8.2)")
    ledger = rd.obj(rd.get(root, "ledger", "$"), "$.ledger")
    ledger_values = {field: rd.dec(rd.get(ledger, field, "$.ledger"), f"$.ledger.{field}")
                     for field in LEDGER_FIELDS}
    attributed = rd.obj(rd.get(root, "attributed", "$"), "$.attributed")
    attributed_values: dict[Cause, tuple[int, int]] = {}
    for cause in ATTRIBUTED_CAUSES:
        pair = rd.lst(rd.get(attributed, cause.value, "$.attributed"), f"$.attributed.{cause}")
        if len(pair) != 2:
            raise rd.fail(f"$.attributed.{cause}", "must be [up, down]")
        attributed_values[cause] = (rd.dec(pair[0], f"$.attributed.{cause}[0]"),
                                    rd.dec(pair[1], f"$.attributed.{cause}[1]"))
    counts_doc: Any = rd.obj(rd.get(root, "counts", "$"), "$.counts")
    counts = {str(k): rd.int_(v, f"$.counts.{k}") for k, v in counts_doc.items()}
    if state is not TrackerState.CLOSED:
        _check_record_counts(rd, counts, held)
    export = TrackerExport(
        config=config, state=state, now=Seconds(now), next_gc_at=Seconds(next_gc_at),
        users=users,
        batcher=BatcherState(next_batch_id, sealed_count, buffers, waiting, in_flight),
        ledger=ledger_values, attributed=attributed_values, counts=counts)
    try:
        return tracker_class.from_export(export, identifier)
    except UsageError as exc:  # every part was checked above; this is a backstop
        raise rd.fail("$", str(exc)) from None


def _check_record_counts(rd: Reader, counts: Mapping[str, int], held: int) -> None:
    """Every record emitted and not delivered is still held: in a buffer or a batch
    (records leave a tracker that is not closed only by delivery, R6.4)."""
    emitted = sum(counts.get(name, 0) for name in RECORD_COUNTS)
    delivered = counts.get("records_delivered", 0)
    if emitted - delivered != held:
        raise rd.fail("$.counts", f"{' + '.join(RECORD_COUNTS)} - records_delivered = "
                      f"{emitted} - {delivered} = {emitted - delivered} records not yet "
                      f"delivered, but the buffers and batches hold {held}")


def _read_users(rd: Reader, listed: Sequence[object], *, now: int, shard_count: int,
                by_peer: bool) -> tuple[UserState, ...]:
    key_len = 40 if by_peer else 20
    users: dict[UserId, UserState] = {}
    for i, raw in enumerate(listed):
        path = f"$.users[{i}]"
        u_doc = rd.obj(raw, path)
        uid = UserId(rd.hexbytes(rd.get(u_doc, "user", path), f"{path}.user", 16))
        shard = rd.int_(rd.get(u_doc, "shard", path), f"{path}.shard")
        if not 0 <= shard < shard_count:
            raise rd.fail(f"{path}.shard", f"must be below shard_count {shard_count}")
        if shard != shard_of(uid, shard_count):
            raise rd.fail(f"{path}.shard", f"user {uid.hex()} belongs to shard "
                          f"{shard_of(uid, shard_count)} (R2.3), not {shard}")
        if uid in users:
            raise rd.fail(f"{path}.user", f"user {uid.hex()} is listed twice")
        entries: list[EntryState] = []
        keys: set[bytes] = set()
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
            if key in keys:
                raise rd.fail(f"{ep}.key", "is listed twice for this user")
            keys.add(key)
            entries.append(EntryState(
                InfoHash(key[:INFO_HASH_LEN]), PeerId(key[INFO_HASH_LEN:]) if by_peer else None,
                up, down, last_seen,
                rd.bool_(rd.get(e_doc, "completed", ep), f"{ep}.completed")))
        cap: int | None = None
        if "cap" in u_doc:
            cap = rd.int_(u_doc["cap"], f"{path}.cap")
            if cap < len(entries):
                raise rd.fail(f"{path}.cap", f"must hold the {len(entries)} entries")
        users[uid] = UserState(uid, shard, cap, tuple(entries))
    return tuple(users.values())


def _read_buffers(rd: Reader, listed: Sequence[object], *, now: int, shard_count: int,
                  global_scope: bool) -> tuple[BufferState, ...]:
    buffers: dict[int | None, BufferState] = {}
    for i, raw in enumerate(listed):
        path = f"$.buffers[{i}]"
        buf_doc = rd.obj(raw, path)
        buf_shard = rd.shard(rd.get(buf_doc, "shard", path), f"{path}.shard")
        if global_scope and buf_shard is not None:
            raise rd.fail(f"{path}.shard", "must be null: batch_scope is global, so the only "
                          "buffer is the global one")
        if not global_scope and (buf_shard is None or buf_shard >= shard_count):
            raise rd.fail(f"{path}.shard", f"must be an integer below shard_count "
                          f"{shard_count} under batch_scope shard, got {buf_shard!r}")
        if buf_shard in buffers:
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
                       latest_name="now", shard_count=shard_count)
        buffers[buf_shard] = BufferState(buf_shard, since, tuple(records))
    # The batcher lists its buffers in buffer order, which is shard order.
    return tuple(buffers[s] for s in sorted(buffers, key=lambda s: -1 if s is None else s))


def _read_pending(rd: Reader, name: str, listed: Sequence[object], seen_ids: set[int], *,
                  now: int, next_batch_id: int, shard_count: int,
                  global_scope: bool) -> tuple[Pending, ...]:
    pending: list[Pending] = []
    for i, raw in enumerate(listed):
        path = f"$.{name}[{i}]"
        p_doc = rd.obj(raw, path)
        batch = rd.batch(rd.get(p_doc, "batch", path), f"{path}.batch")
        if (batch.shard is None) != global_scope or (
                batch.shard is not None and batch.shard >= shard_count):
            want = ("null (batch_scope global)" if global_scope else
                    f"an integer below shard_count {shard_count} (batch_scope shard)")
            raise rd.fail(f"{path}.batch.shard", f"must be {want}, got {batch.shard!r}")
        batch_id = batch.batch_id
        if batch_id >= next_batch_id:
            raise rd.fail(f"{path}.batch.batch_id", f"{batch_id} is not below "
                          f"next_batch_id ({next_batch_id}): no such batch was sealed")
        if batch_id in seen_ids:
            raise rd.fail(f"{path}.batch.batch_id", f"batch {batch_id} is listed twice")
        if pending and batch_id < max(p.batch.batch_id for p in pending):
            raise rd.fail(f"{path}.batch.batch_id", f"{batch_id} is out of order: "
                          f"{name} lists batches by ascending id")
        seen_ids.add(batch_id)
        if batch.sealed_at > now:
            raise rd.fail(f"{path}.batch.sealed_at",
                          f"{batch.sealed_at} is later than now ({now})")
        _check_records(rd, batch.records, f"{path}.batch.records", shard=batch.shard,
                       latest=batch.sealed_at, latest_name="the batch's sealed_at",
                       shard_count=shard_count)
        attempts = rd.int_(rd.get(p_doc, "attempts", path), f"{path}.attempts")
        least = 1 if name == "in_flight" else 0
        if attempts < least:
            raise rd.fail(f"{path}.attempts", f"must be at least {least}, got {attempts}")
        pending.append(Pending(
            batch,
            attempts,
            rd.int_(rd.get(p_doc, "not_before", path), f"{path}.not_before"),
            rd.bool_(rd.get(p_doc, "on_path", path), f"{path}.on_path"),
        ))
    return tuple(pending)


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
