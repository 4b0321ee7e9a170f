"""What the tracker reports back: per-announce results, GC and stop reports,
the accounting ledger and plain-data metrics."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ._types import (
    Batch,
    ByteCount,
    Cause,
    DeltaRecord,
    InfoHash,
    Outcome,
    PeerId,
    RejectCode,
    Seconds,
    UserId,
)


class TrackerState(enum.StrEnum):
    """Life cycle: ``OPEN`` -> ``STOPPING`` (after :meth:`Tracker.stop`) -> ``CLOSED``."""

    OPEN = "open"
    STOPPING = "stopping"
    CLOSED = "closed"
    CRASHED = "crashed"
    """The seed's process died in GC (R7.3, ``expiry_panic = abort``); every
    later call raises :class:`Unmodelled`."""


class AnnounceResult(NamedTuple):
    """How one announce was accounted.

    Per direction, for an accepted announce whose entry continues, the
    reported counter equals the previous baseline plus ``credited_*`` plus
    ``attributed_*``; when a new baseline epoch starts (``BASELINE``,
    ``RESET``, ``EXPIRED``) the previous baseline counts as zero (R3.4).

    ``flush`` is a batch the driver must deliver *before answering the
    client* (the seed's synchronous path, R6.3); report its outcome with
    :meth:`Tracker.batch_succeeded` or :meth:`Tracker.batch_failed`.
    """

    outcome: Outcome
    user: UserId | None
    record: DeltaRecord | None
    credited_up: ByteCount
    credited_down: ByteCount
    cause: Cause | None
    attributed_up: ByteCount
    attributed_down: ByteCount
    flush: Batch | None
    reject: RejectCode | None
    message: str
    seed_would_panic: bool


class GcResult(NamedTuple):
    """What one garbage collection did (R7)."""

    scanned: int
    removed_entries: int
    removed_users: int
    deferred: int
    """Stale entries kept because their purge record would exceed ``max_pending``."""
    sealed: tuple[int, ...]
    """Batch ids sealed by the flush-on-GC trigger (R6.2)."""
    seed_would_panic: bool
    """The Go middleware's expiry loop would have crashed the process (R7.3)."""
    order_dependent: bool = False
    """Under ``expiry_panic = abort``: what the seed removed before it panicked
    depends on Go's random map order (another user of the panicking shard had
    stale entries), so ``removed_entries`` and ``removed_users`` are one of
    several possible answers."""


class CloseReport(NamedTuple):
    """What :meth:`Tracker.close` hands back (R8.2)."""

    returned: tuple[Batch, ...]
    """Undelivered batches, for the caller to keep (policy ``return``)."""
    dropped_records: int
    """Records discarded (policy ``drop``, the seed)."""


class EntryView(NamedTuple):
    """A read-only view of one stored baseline."""

    user: UserId
    info_hash: InfoHash
    peer_id: PeerId | None
    uploaded: ByteCount
    downloaded: ByteCount
    last_seen: Seconds
    completed: bool


@dataclass(frozen=True, slots=True)
class Ledger:
    """Tracker-wide byte accounting, per direction (R11).

    ``credited`` is what records carried when created; it is split exactly
    into ``delivered + dropped + returned + pending``. ``attributed`` holds,
    per cause, reported bytes that started a new baseline instead of being
    credited.
    """

    credited_up: ByteCount
    credited_down: ByteCount
    delivered_up: ByteCount
    delivered_down: ByteCount
    dropped_up: ByteCount
    dropped_down: ByteCount
    returned_up: ByteCount
    returned_down: ByteCount
    pending_up: ByteCount
    pending_down: ByteCount
    attributed: Mapping[Cause, tuple[ByteCount, ByteCount]]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Counters and gauges as plain data; drivers export them (R12)."""

    users: int
    entries: int
    buffered_records: int
    waiting_batches: int
    in_flight_batches: int
    pending_records: int
    announces: int
    outcomes: Mapping[str, int] = field(default_factory=dict)
    rejected: Mapping[str, int] = field(default_factory=dict)
    records: Mapping[str, int] = field(default_factory=dict)
    batches_sealed: int = 0
    batches_delivered: int = 0
    batches_failed: int = 0
    records_delivered: int = 0
    purged_entries: int = 0
    purges_deferred: int = 0
    gc_runs: int = 0
    gc_entries_scanned: int = 0
    seed_panics: int = 0
