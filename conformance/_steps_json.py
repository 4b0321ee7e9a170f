"""Steps and observations to and from their wire form (JSON values).

The wire form is fixed by the vector format (VECTORS.md) and the adapter
protocol (PROTOCOL.md): byte strings lowercase hex, counters and byte deltas
decimal strings, times and small counts JSON integers, records and batches
exactly :func:`privtrak.reference.encode_record` /
:func:`~privtrak.reference.encode_batch`. The types are in :mod:`._steps`.

Encoding writes every field, gated by a feature or not. Decoding is strict:
a missing or unknown key, a wrong type or an out-of-range value raises
:class:`~._steps.VectorError` naming the file, case, step and field.
"""

from __future__ import annotations

from collections.abc import Mapping

from privtrak.reference import (
    AnnounceRequest,
    ByteCount,
    Event,
    InfoHash,
    InvalidInput,
    Outcome,
    PeerId,
    RejectCode,
    UserId,
    encode_batch,
    encode_record,
)
from privtrak.reference._codec import Reader

from ._steps import (
    LEDGER_KEYS,
    OPS,
    TIMED_OPS,
    AnnounceObservation,
    AnnounceStep,
    DeliverObservation,
    Delivery,
    EmptyObservation,
    GcObservation,
    HandlerOutcome,
    HandlerStep,
    JsonObject,
    LedgerSummary,
    Observation,
    ReportStep,
    StateEntry,
    StateObservation,
    Status,
    Step,
    StopObservation,
    TakeObservation,
    VectorError,
    Where,
)

# -- encoding -----------------------------------------------------------------


def encode_request(request: AnnounceRequest) -> JsonObject:
    """An announce request in wire form."""
    return {
        "credential": request.credential,
        "info_hash": request.info_hash.hex(),
        "peer_id": request.peer_id.hex(),
        "uploaded": str(request.uploaded),
        "downloaded": str(request.downloaded),
        "left": str(request.left),
        "event": request.event.value,
        "ip": request.ip,
        "port": request.port,
    }


def encode_step(step: Step) -> JsonObject:
    """A step in wire form (``op`` first)."""
    if isinstance(step, HandlerStep):
        return {"op": "handler", "outcomes": [o.value for o in step.outcomes]}
    if isinstance(step, AnnounceStep):
        return {"op": "announce", "now": step.now, "request": encode_request(step.request)}
    if isinstance(step, ReportStep):
        return {"op": "report", "now": step.now, "taken": step.taken,
                "outcome": step.outcome.value}
    return {"op": step.op, "now": step.now}


def _deliveries(deliveries: tuple[Delivery, ...]) -> list[JsonObject]:
    return [{"batch": encode_batch(d.batch), "outcome": d.outcome.value} for d in deliveries]


def _entry(e: StateEntry) -> JsonObject:
    return {"user": e.user.hex(), "info_hash": e.info_hash.hex(),
            "peer_id": None if e.peer_id is None else e.peer_id.hex(),
            "uploaded": str(e.uploaded), "downloaded": str(e.downloaded),
            "last_seen": e.last_seen, "completed": e.completed}


def encode_observation(obs: Observation) -> JsonObject:
    """An observation in wire form; every field present, gated or not."""
    if isinstance(obs, EmptyObservation):
        return {}
    if isinstance(obs, AnnounceObservation):
        return {"status": obs.status.value,
                "reject": None if obs.reject is None else obs.reject.value,
                "outcome": obs.outcome.value,
                "record": None if obs.record is None else encode_record(obs.record),
                "deliveries": _deliveries(obs.deliveries),
                "seed_would_panic": obs.seed_would_panic}
    if isinstance(obs, DeliverObservation):
        return {"deliveries": _deliveries(obs.deliveries)}
    if isinstance(obs, TakeObservation):
        return {"batch": None if obs.batch is None else encode_batch(obs.batch)}
    if isinstance(obs, GcObservation):
        return {"removed_entries": obs.removed_entries, "removed_users": obs.removed_users,
                "seed_would_panic": obs.seed_would_panic, "deliveries": []}
    if isinstance(obs, StopObservation):
        return {"deliveries": _deliveries(obs.deliveries),
                "returned": [encode_batch(b) for b in obs.returned],
                "dropped_records": obs.dropped_records}
    return {"users": obs.users, "entries": [_entry(e) for e in obs.entries],
            "pending_records": obs.pending_records,
            "ledger": {k: str(getattr(obs.ledger, k)) for k in LEDGER_KEYS},
            "next_deadline": obs.next_deadline}


# -- decoding -----------------------------------------------------------------


class _Reader(Reader):
    """The reference's strict JSON reader, raising :class:`VectorError` that
    also names the file, case and step, plus the conformance-only shapes."""

    def __init__(self, where: Where) -> None:
        super().__init__(lambda field, why: VectorError(where, field, why))
        self.where = where

    def deliveries(self, value: object, path: str) -> tuple[Delivery, ...]:
        out = []
        for i, raw in enumerate(self.lst(value, path)):
            p = f"{path}[{i}]"
            doc = self.obj(raw, p, ("batch", "outcome"))
            out.append(Delivery(self.batch(doc["batch"], f"{p}.batch"),
                                self.enum_(HandlerOutcome, doc["outcome"], f"{p}.outcome")))
        return tuple(out)

    def request(self, value: object, path: str) -> AnnounceRequest:
        doc = self.obj(value, path, ("credential", "info_hash", "peer_id", "uploaded",
                                     "downloaded", "left", "event", "ip", "port"))
        port = self.int_(doc["port"], f"{path}.port")
        if port > 65535:
            raise self.fail(f"{path}.port", f"must be in 0..65535, got {port}")
        try:
            return AnnounceRequest(
                self.str_(doc["credential"], f"{path}.credential"),
                InfoHash(self.hexbytes(doc["info_hash"], f"{path}.info_hash", 20)),
                PeerId(self.hexbytes(doc["peer_id"], f"{path}.peer_id", 20)),
                ByteCount(self.dec(doc["uploaded"], f"{path}.uploaded", unsigned=True)),
                ByteCount(self.dec(doc["downloaded"], f"{path}.downloaded", unsigned=True)),
                ByteCount(self.dec(doc["left"], f"{path}.left", unsigned=True)),
                self.enum_(Event, doc["event"], f"{path}.event"),
                self.str_(doc["ip"], f"{path}.ip"),
                port,
            )
        except InvalidInput as exc:
            raise self.fail(f"{path}.{exc.field}", exc.why) from None


def decode_step(doc: object, where: Where, path: str = "step") -> Step:
    """A step from its wire form; raises :class:`VectorError`."""
    rd = _Reader(where)
    if not isinstance(doc, Mapping):
        raise rd.fail(path, f"must be an object, got {_show(doc)}")
    op = doc.get("op")
    if op == "handler":
        d = rd.obj(doc, path, ("op", "outcomes"))
        outcomes = rd.lst(d["outcomes"], f"{path}.outcomes")
        return HandlerStep(tuple(rd.enum_(HandlerOutcome, o, f"{path}.outcomes[{i}]")
                                 for i, o in enumerate(outcomes)))
    if op == "announce":
        d = rd.obj(doc, path, ("op", "now", "request"))
        return AnnounceStep(rd.int_(d["now"], f"{path}.now"),
                            rd.request(d["request"], f"{path}.request"))
    if op == "report":
        d = rd.obj(doc, path, ("op", "now", "taken", "outcome"))
        return ReportStep(rd.int_(d["now"], f"{path}.now"), rd.int_(d["taken"], f"{path}.taken"),
                          rd.enum_(HandlerOutcome, d["outcome"], f"{path}.outcome"))
    if isinstance(op, str) and op in TIMED_OPS:
        d = rd.obj(doc, path, ("op", "now"))
        return TIMED_OPS[op](rd.int_(d["now"], f"{path}.now"))
    raise rd.fail(f"{path}.op", f"must be one of {', '.join(OPS)}, got {_show(op)}")


_OBS_KEYS: dict[str, tuple[str, ...]] = {
    "handler": (),
    "snapshot_restore": (),
    "report": (),
    "announce": ("status", "reject", "outcome", "record", "deliveries", "seed_would_panic"),
    "deliver": ("deliveries",),
    "take": ("batch",),
    "gc": ("removed_entries", "removed_users", "seed_would_panic", "deliveries"),
    "stop": ("deliveries", "returned", "dropped_records"),
    "state": ("users", "entries", "pending_records", "ledger", "next_deadline"),
}


def observation_keys(op: str) -> tuple[str, ...]:
    """The keys of the observation a step ``op`` produces."""
    return _OBS_KEYS[op]


def decode_observation(op: str, doc: object, where: Where,
                       path: str = "expect") -> Observation:
    """The observation of a step ``op`` from its wire form; raises :class:`VectorError`.

    Every key is required: a vector states complete expectations (an adapter
    lacking a feature is compared on the ungated fields only, by the runner).
    """
    rd = _Reader(where)
    if op not in _OBS_KEYS:
        raise rd.fail(path, f"no observation is defined for op {op!r}")
    d = rd.obj(doc, path, _OBS_KEYS[op])
    if op in ("handler", "snapshot_restore", "report"):
        return EmptyObservation()
    if op == "announce":
        reject = d["reject"]
        record = d["record"]
        return AnnounceObservation(
            rd.enum_(Status, d["status"], f"{path}.status"),
            None if reject is None else rd.enum_(RejectCode, reject, f"{path}.reject"),
            rd.enum_(Outcome, d["outcome"], f"{path}.outcome"),
            None if record is None else rd.record(record, f"{path}.record"),
            rd.deliveries(d["deliveries"], f"{path}.deliveries"),
            rd.bool_(d["seed_would_panic"], f"{path}.seed_would_panic"),
        )
    if op == "deliver":
        return DeliverObservation(rd.deliveries(d["deliveries"], f"{path}.deliveries"))
    if op == "take":
        batch = d["batch"]
        return TakeObservation(None if batch is None else rd.batch(batch, f"{path}.batch"))
    if op == "gc":
        if rd.lst(d["deliveries"], f"{path}.deliveries"):
            raise rd.fail(f"{path}.deliveries", "must be empty: GC never delivers")
        removed = [None if d[k] is None else rd.int_(d[k], f"{path}.{k}")
                   for k in ("removed_entries", "removed_users")]
        return GcObservation(removed[0], removed[1],
                             rd.bool_(d["seed_would_panic"], f"{path}.seed_would_panic"))
    if op == "stop":
        returned = rd.lst(d["returned"], f"{path}.returned")
        return StopObservation(
            rd.deliveries(d["deliveries"], f"{path}.deliveries"),
            tuple(rd.batch(b, f"{path}.returned[{i}]") for i, b in enumerate(returned)),
            rd.int_(d["dropped_records"], f"{path}.dropped_records"))
    entries = []
    for i, raw in enumerate(rd.lst(d["entries"], f"{path}.entries")):
        p = f"{path}.entries[{i}]"
        e = rd.obj(raw, p, ("user", "info_hash", "peer_id", "uploaded", "downloaded",
                            "last_seen", "completed"))
        peer = e["peer_id"]
        entries.append(StateEntry(
            UserId(rd.hexbytes(e["user"], f"{p}.user", 16)),
            InfoHash(rd.hexbytes(e["info_hash"], f"{p}.info_hash", 20)),
            None if peer is None else PeerId(rd.hexbytes(peer, f"{p}.peer_id", 20)),
            rd.dec(e["uploaded"], f"{p}.uploaded", unsigned=True),
            rd.dec(e["downloaded"], f"{p}.downloaded", unsigned=True),
            rd.int_(e["last_seen"], f"{p}.last_seen"),
            rd.bool_(e["completed"], f"{p}.completed")))
    ledger = rd.obj(d["ledger"], f"{path}.ledger", LEDGER_KEYS)
    deadline = d["next_deadline"]
    return StateObservation(
        rd.int_(d["users"], f"{path}.users"),
        tuple(entries),
        rd.int_(d["pending_records"], f"{path}.pending_records"),
        LedgerSummary(*(rd.dec(ledger[k], f"{path}.ledger.{k}") for k in LEDGER_KEYS)),
        None if deadline is None else rd.int_(deadline, f"{path}.next_deadline"),
    )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
