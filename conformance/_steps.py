"""Steps and observations of a conformance case, as typed values.

A case is a list of steps; running a step against an implementation yields
one observation. The wire form of both is fixed by the vector format and the
adapter protocol (version 2), and follows the reference's value encodings:
byte strings are lowercase hex, counters and byte deltas decimal strings (so
no JSON parser rounds them), times and small counts JSON integers, records
and batches exactly :func:`privtrak.reference.encode_record` /
:func:`~privtrak.reference.encode_batch`.

This module holds the types (and :class:`VectorError`, :class:`Where`, which
locate a malformed one); :mod:`._steps_json` their JSON codecs, where
decoding is strict: a missing or unknown key, a wrong type or an
out-of-range value raises :class:`VectorError` naming the file, case, step
and field.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from privtrak.reference import (
    AnnounceRequest,
    Batch,
    DeltaRecord,
    InfoHash,
    Outcome,
    PeerId,
    RejectCode,
    UserId,
)

JsonObject = dict[str, Any]
"""A decoded JSON object."""


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

TIMED_OPS: dict[str, Callable[[int], Step]] = {
    "deliver": DeliverStep,
    "take": TakeStep,
    "gc": GcStep,
    "stop": StopStep,
    "snapshot_restore": SnapshotRestoreStep,
    "state": StateStep,
}
"""The ops whose step is ``{"op", "now"}`` alone -> the step type."""
OPS: tuple[str, ...] = ("handler", "announce", "report", *TIMED_OPS)
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
