"""Steps and observations of a conformance case, as typed values with JSON codecs.

A case is a list of steps; running a step against an implementation yields
one observation. The wire form of both is fixed by the vector format and the
adapter protocol (version 2), and follows the reference's value encodings:
byte strings are lowercase hex, counters and byte deltas decimal strings (so
no JSON parser rounds them), times and small counts JSON integers, records
and batches exactly :func:`privtrak.reference.encode_record` /
:func:`~privtrak.reference.encode_batch`.

Decoding is strict: a missing or unknown key, a wrong type or an out-of-range
value raises :class:`VectorError` naming the file, case, step and field.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from privtrak.reference import (
    AnnounceRequest,
    Batch,
    ByteCount,
    DeltaRecord,
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

JsonObject = dict[str, Any]



@dataclass(frozen=True, slots=True)
class Where:
    """Where a value sits: file, case id and step index (each optional)."""

    file: str | None = None
    case: str | None = None
    step: int | None = None

    def at(self, step: int | None) -> Where:
        """The same place, at step ``step``."""
        return Where(self.file, self.case, step)

    def describe(self) -> str:
        """``file F: case C: step N`` with the unknown parts left out."""
        parts = []
        if self.file is not None:
            parts.append(f"file {self.file}")
        if self.case is not None:
            parts.append(f"case {self.case!r}")
        if self.step is not None:
            parts.append(f"step {self.step}")
        return ": ".join(parts)


class VectorError(ValueError):
    """A vector, step or observation is malformed.

    ``file``, ``case`` and ``step`` locate it (``None`` when unknown),
    ``field`` is the JSON path inside the located object, ``why`` what is
    wrong with its value.
    """

    def __init__(self, where: Where, field: str, why: str) -> None:
        self.file = where.file
        self.case = where.case
        self.step = where.step
        self.field = field
        self.why = why
        prefix = where.describe()
        super().__init__(f"{prefix + ': ' if prefix else ''}{field}: {why}")


class HandlerOutcome(enum.StrEnum):
    """What the scripted DeltaHandler does with the next batch it receives."""

    OK = "ok"
    FAIL = "fail"
    FAIL_AFTER_COMMIT = "fail_after_commit"
    """It persists the batch, then reports an error (a lost acknowledgement)."""


class Status(enum.StrEnum):
    """Whether the announce was answered with success or an error."""

    OK = "ok"
    REJECTED = "rejected"


# -- steps --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandlerStep:
    """Queue handler outcomes, consumed one per delivery (empty queue: ``ok``)."""

    outcomes: tuple[HandlerOutcome, ...]
    op: ClassVar[str] = "handler"


@dataclass(frozen=True, slots=True)
class AnnounceStep:
    """One announce at ``now``."""

    now: int
    request: AnnounceRequest
    op: ClassVar[str] = "announce"


@dataclass(frozen=True, slots=True)
class DeliverStep:
    """A background flusher pass at ``now``: deliver every due batch."""

    now: int
    op: ClassVar[str] = "deliver"


@dataclass(frozen=True, slots=True)
class GcStep:
    """A garbage collection at ``now``."""

    now: int
    op: ClassVar[str] = "gc"


@dataclass(frozen=True, slots=True)
class StopStep:
    """Stop at ``now``: deliver what stop hands out, then close."""

    now: int
    op: ClassVar[str] = "stop"


@dataclass(frozen=True, slots=True)
class TakeStep:
    """A flusher takes the next due batch and hands it to a slow handler: the batch
    stays in flight until a :class:`ReportStep` reports its outcome."""

    now: int
    op: ClassVar[str] = "take"


@dataclass(frozen=True, slots=True)
class ReportStep:
    """Report the outcome of a batch taken earlier and not reported yet.

    ``taken`` picks it among those in the order they were taken (0 is the
    oldest still outstanding), so no implementation needs the reference's
    batch ids.
    """

    now: int
    taken: int
    outcome: HandlerOutcome
    op: ClassVar[str] = "report"


@dataclass(frozen=True, slots=True)
class SnapshotRestoreStep:
    """Snapshot the whole state, discard the tracker, restore it."""

    now: int
    op: ClassVar[str] = "snapshot_restore"


@dataclass(frozen=True, slots=True)
class StateStep:
    """Observe the state summary at ``now``."""

    now: int
    op: ClassVar[str] = "state"


Step = (HandlerStep | AnnounceStep | DeliverStep | TakeStep | ReportStep | GcStep | StopStep
        | SnapshotRestoreStep | StateStep)
TimedStep = (AnnounceStep | DeliverStep | TakeStep | ReportStep | GcStep | StopStep
             | SnapshotRestoreStep | StateStep)

_TIMED_OPS: dict[str, Callable[[int], Step]] = {
    "deliver": DeliverStep,
    "take": TakeStep,
    "gc": GcStep,
    "stop": StopStep,
    "snapshot_restore": SnapshotRestoreStep,
    "state": StateStep,
}
OPS: tuple[str, ...] = ("handler", "announce", "report", *_TIMED_OPS)
"""Every step operation, in the order the format document lists them."""


def step_time(step: Step) -> int | None:
    """The step's ``now``; ``None`` for a handler step, which has none."""
    return None if isinstance(step, HandlerStep) else step.now


# -- observations -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One batch handed to the DeltaHandler and the outcome it scripted."""

    batch: Batch
    outcome: HandlerOutcome


@dataclass(frozen=True, slots=True)
class EmptyObservation:
    """What ``handler`` and ``snapshot_restore`` steps observe: nothing."""


@dataclass(frozen=True, slots=True)
class AnnounceObservation:
    """An announce's answer, its accounting and the batches it delivered."""

    status: Status
    reject: RejectCode | None
    outcome: Outcome
    record: DeltaRecord | None
    deliveries: tuple[Delivery, ...]
    seed_would_panic: bool = False
    """The seed's expiry loop panicked inside this announce (R7.1, R7.3)."""


@dataclass(frozen=True, slots=True)
class DeliverObservation:
    """The batches one flusher pass delivered, in order."""

    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True, slots=True)
class TakeObservation:
    """The batch a ``take`` handed out (now in flight), or ``None``."""

    batch: Batch | None


@dataclass(frozen=True, slots=True)
class GcObservation:
    """What one garbage collection removed; GC never delivers.

    ``None`` counts mean "not compared": the seed panicked and what it removed
    first depends on Go's map order (R7.3).
    """

    removed_entries: int | None
    removed_users: int | None
    seed_would_panic: bool


@dataclass(frozen=True, slots=True)
class StopObservation:
    """Stop's deliveries, then what close returned or dropped."""

    deliveries: tuple[Delivery, ...]
    returned: tuple[Batch, ...]
    dropped_records: int


@dataclass(frozen=True, slots=True)
class StateEntry:
    """One stored baseline in a state summary."""

    user: UserId
    info_hash: InfoHash
    peer_id: PeerId | None
    uploaded: int
    downloaded: int
    last_seen: int
    completed: bool = False
    """Whether an accepted ``completed`` set the entry's snatch flag (R2.2, R5.2)."""


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """The tracker-wide byte ledger (R11), per direction, with the reported bytes
    attributed to a new baseline epoch per cause (R11.1)."""

    credited_up: int
    credited_down: int
    delivered_up: int
    delivered_down: int
    dropped_up: int
    dropped_down: int
    returned_up: int
    returned_down: int
    pending_up: int
    pending_down: int
    attributed_baseline_up: int
    attributed_baseline_down: int
    attributed_reset_up: int
    attributed_reset_down: int
    attributed_purge_gap_up: int
    attributed_purge_gap_down: int


LEDGER_KEYS: tuple[str, ...] = tuple(f.name for f in fields(LedgerSummary))


@dataclass(frozen=True, slots=True)
class StateObservation:
    """The state summary: users, every baseline, pending records, ledger."""

    users: int
    entries: tuple[StateEntry, ...]
    pending_records: int
    ledger: LedgerSummary
    next_deadline: int | None = None
    """When the driver must wake up next (R6.2, R6.5, R7; ``None``: nothing due)."""


Observation = (EmptyObservation | AnnounceObservation | DeliverObservation | TakeObservation
               | GcObservation | StopObservation | StateObservation)


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
    if isinstance(op, str) and op in _TIMED_OPS:
        d = rd.obj(doc, path, ("op", "now"))
        return _TIMED_OPS[op](rd.int_(d["now"], f"{path}.now"))
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
