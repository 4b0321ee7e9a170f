"""The model's own snapshot (SPEC R8.3): its whole state as a JSON-ready document.

The document (format ``privtrak-model-state``, version 1) lists the model's
flat state as it is: entries, buffers, batches with attempts and backoff,
ledger, counters, the R7.3 slice capacities and the records' private serial
numbers. It is not the Tracker's ``privtrak-snapshot`` format (whose user
order is the Tracker's internal order); it exists so that the model can be
saved and restored between calls, as R8.3 requires of any implementation,
and so serve the ``snapshot_restore`` conformance step. Records and configs
are encoded with the reference's public codec; reading uses its strict
``Reader``, so a malformed document raises ``SnapshotError`` naming the JSON
path. A state the model no longer models (after a seed panic, R7.3) cannot
be saved: ``Unmodelled``.
"""

from __future__ import annotations

from typing import Any

from privtrak.reference import (
    InfoHash,
    PeerId,
    Seconds,
    TrackerState,
    Unmodelled,
    UserId,
    UserIdentifier,
    config_to_mapping,
    encode_record,
)
from privtrak.reference._codec import Reader

from .state import ModelState, SealedBatch, Stored, Tagged, new_state

FORMAT = "privtrak-model-state"
VERSION = 1


def save(m: ModelState) -> dict[str, Any]:
    """R8.3: the complete state as a JSON-ready document."""
    if m.state is TrackerState.CRASHED or m.corrupted:
        raise Unmodelled("the seed's state after an expiry panic is not modelled (R7.3); "
                         "it cannot be saved")
    return {
        "format": FORMAT, "version": VERSION, "config": config_to_mapping(m.config),
        "state": m.state.value, "now": m.now, "next_gc_at": m.next_gc_at,
        "next_batch_id": m.next_batch_id, "next_serial": m.next_serial,
        "entries": [[k[0].hex(), k[1].hex(), None if k[2] is None else k[2].hex(),
                     str(s.up), str(s.down), s.last_seen, s.completed]
                    for k, s in m.stored.items()],
        "buffers": [{"shard": name,
                     "since": m.buffer_since.get(name) if m.buffers[name] else None,
                     "records": [_tagged(t) for t in m.buffers[name]]} for name in m.buffers],
        "batches": [{"batch_id": sb.batch_id, "shard": sb.buffer, "sealed_at": sb.sealed_at,
                     "attempts": sb.attempts, "not_before": sb.not_before,
                     "on_path": sb.on_path, "in_flight": sb.in_flight,
                     "records": [_tagged(t) for t in sb.items]} for sb in m.batches],
        "delivered_serials": sorted(m.delivered_serials),
        "ledger": {k: str(v) for k, v in m.ledger.items()},
        "attributed": {c.value: [str(v[0]), str(v[1])] for c, v in m.attributed.items()},
        "outcomes": dict(m.outcomes), "rejected": dict(m.rejected),
        "records": dict(m.records), "counters": dict(m.counters),
        "go_capacity": {u.hex(): cap for u, cap in sorted(m.go_capacity.items())},
    }


def _tagged(t: Tagged) -> dict[str, Any]:
    return {"serial": t.serial, "record": encode_record(t.record)}


def load(doc: object, identifier: UserIdentifier) -> ModelState:
    """R8.3: rebuild the state :func:`save` wrote; ``SnapshotError`` names the
    JSON path of anything malformed."""
    rd = Reader()
    top = rd.obj(doc, "$")
    if top.get("format") != FORMAT or top.get("version") != VERSION:
        raise rd.fail("$", f"is not a {FORMAT} document of version {VERSION}")
    config = rd.config(rd.get(top, "config", "$"), "$.config")
    m = new_state(config, identifier, Seconds(rd.int_(rd.get(top, "now", "$"), "$.now")))
    m.state = rd.enum_(TrackerState, rd.get(top, "state", "$"), "$.state")
    m.next_gc_at = rd.int_(rd.get(top, "next_gc_at", "$"), "$.next_gc_at")
    m.next_batch_id = rd.int_(rd.get(top, "next_batch_id", "$"), "$.next_batch_id", 1)
    m.next_serial = rd.int_(rd.get(top, "next_serial", "$"), "$.next_serial", 1)
    for i, row in enumerate(rd.lst(rd.get(top, "entries", "$"), "$.entries")):
        path = f"$.entries[{i}]"
        user, info_hash, peer, up, down, seen, completed = _row(rd, row, path, 7)
        key = (UserId(rd.hexbytes(user, path + "[0]", 16)),
               InfoHash(rd.hexbytes(info_hash, path + "[1]", 20)),
               None if peer is None else PeerId(rd.hexbytes(peer, path + "[2]", 20)))
        m.stored[key] = Stored(rd.dec(up, path + "[3]", unsigned=True),
                               rd.dec(down, path + "[4]", unsigned=True),
                               rd.int_(seen, path + "[5]"), rd.bool_(completed, path + "[6]"))
    buffers = rd.lst(rd.get(top, "buffers", "$"), "$.buffers")
    if len(buffers) != len(m.buffers):
        raise rd.fail("$.buffers", f"must list {len(m.buffers)} buffers, got {len(buffers)}")
    for i, (name, raw) in enumerate(zip(list(m.buffers), buffers, strict=True)):
        path = f"$.buffers[{i}]"
        buf = rd.obj(raw, path, ("shard", "since", "records"))
        if buf["shard"] != name:
            raise rd.fail(path + ".shard", f"must be {name!r}, got {buf['shard']!r}")
        m.buffers[name] = _items(rd, buf["records"], path + ".records")
        if m.buffers[name]:
            m.buffer_since[name] = rd.int_(buf["since"], path + ".since")
    for i, raw in enumerate(rd.lst(rd.get(top, "batches", "$"), "$.batches")):
        path = f"$.batches[{i}]"
        b = rd.obj(raw, path, ("batch_id", "shard", "sealed_at", "attempts", "not_before",
                               "on_path", "in_flight", "records"))
        m.batches.append(SealedBatch(
            rd.int_(b["batch_id"], path + ".batch_id", 1), rd.shard(b["shard"], path + ".shard"),
            _items(rd, b["records"], path + ".records"),
            rd.int_(b["sealed_at"], path + ".sealed_at"),
            rd.int_(b["attempts"], path + ".attempts"),
            rd.int_(b["not_before"], path + ".not_before"),
            rd.bool_(b["on_path"], path + ".on_path"),
            rd.bool_(b["in_flight"], path + ".in_flight")))
    m.delivered_serials = {rd.int_(s, f"$.delivered_serials[{i}]") for i, s in enumerate(
        rd.lst(rd.get(top, "delivered_serials", "$"), "$.delivered_serials"))}
    _counts(rd, top, "ledger", m.ledger, decimal=True)
    for table in ("outcomes", "rejected", "records", "counters"):
        _counts(rd, top, table, getattr(m, table), decimal=False)
    attributed = rd.obj(rd.get(top, "attributed", "$"), "$.attributed",
                        tuple(c.value for c in m.attributed))
    for cause in list(m.attributed):
        pair = _row(rd, attributed[cause.value], f"$.attributed.{cause.value}", 2)
        m.attributed[cause] = [rd.dec(v, f"$.attributed.{cause.value}[{j}]")
                                      for j, v in enumerate(pair)]
    caps = rd.obj(rd.get(top, "go_capacity", "$"), "$.go_capacity")
    m.go_capacity = {UserId(rd.hexbytes(u, "$.go_capacity", 16)):
                     rd.int_(cap, f"$.go_capacity.{u}", 1) for u, cap in caps.items()}
    return m


def _row(rd: Reader, value: object, path: str, length: int) -> list[Any]:
    row = rd.lst(value, path)
    if len(row) != length:
        raise rd.fail(path, f"must have {length} items, got {len(row)}")
    return row


def _items(rd: Reader, value: object, path: str) -> list[Tagged]:
    out = []
    for i, raw in enumerate(rd.lst(value, path)):
        item = rd.obj(raw, f"{path}[{i}]", ("serial", "record"))
        out.append(Tagged(rd.int_(item["serial"], f"{path}[{i}].serial", 1),
                          rd.record(item["record"], f"{path}[{i}].record")))
    return out


def _counts(rd: Reader, top: Any, name: str, into: dict[str, int], *, decimal: bool) -> None:
    doc = rd.obj(rd.get(top, name, "$"), f"$.{name}", tuple(into))
    for key in into:
        path = f"$.{name}.{key}"
        into[key] = rd.dec(doc[key], path) if decimal else rd.int_(doc[key], path)
