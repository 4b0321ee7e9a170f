"""The model's state: flat dicts and lists, nothing packed, nothing cached.

Every stored baseline is one item of :attr:`ModelState.stored`, keyed by
``(user, info_hash, peer_id or None)``; every buffered record is one item of
a plain list per buffer; every sealed batch is one :class:`SealedBatch` in
one flat list that the step functions scan with plain loops. Counters are
plain dicts keyed by the names :class:`~privtrak.reference.Metrics` uses.

Each record carries a private serial number; :func:`deliver_serials` refuses
to deliver a serial twice, so the model itself proves that no record reaches
the handler twice after a success (R6.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from privtrak.reference import (
    Batch,
    BatchScope,
    Cause,
    Config,
    DeltaRecord,
    InfoHash,
    Outcome,
    PeerId,
    RecordKind,
    RejectCode,
    Seconds,
    TrackerState,
    UserId,
    UserIdentifier,
)

Key = tuple[UserId, InfoHash, PeerId | None]
"""A baseline key (R2.1); the peer id is ``None`` under ``user_torrent`` keying."""

BufferName = int | None
"""A buffer: its shard number, or ``None`` for the one global buffer (R6.8)."""

LEDGER_NAMES = ("credited_up", "credited_down", "delivered_up", "delivered_down",
                "dropped_up", "dropped_down", "returned_up", "returned_down")
"""The ledger sums the model keeps (R11); ``pending_*`` is computed from the records."""

ATTRIBUTED_CAUSES = (Cause.BASELINE, Cause.RESET, Cause.PURGE_GAP)
"""The causes the core attributes itself (R11.1)."""


@dataclass
class Stored:
    """One baseline (R2.2)."""

    up: int
    down: int
    last_seen: int
    completed: bool


@dataclass
class Tagged:
    """A record plus the model's private serial number."""

    serial: int
    record: DeltaRecord


@dataclass
class SealedBatch:
    """A sealed batch that is neither delivered nor settled at close (R6.4)."""

    batch_id: int
    buffer: BufferName
    """The buffer it was sealed from: a shard, or ``None`` for the global one."""
    items: list[Tagged]
    sealed_at: int
    attempts: int = 0
    not_before: int = 0
    on_path: bool = False
    """Handed out in an announce's ``flush`` (R6.3), outcome not reported yet."""
    in_flight: bool = False

    def as_batch(self) -> Batch:
        """The public value a driver sees."""
        return Batch(self.batch_id, self.buffer, tuple(t.record for t in self.items),
                     Seconds(self.sealed_at))


@dataclass
class ModelState:
    """Everything the model knows; the step functions read and change it."""

    config: Config
    identifier: UserIdentifier
    now: Seconds
    state: TrackerState = TrackerState.OPEN
    next_gc_at: int = 0
    stored: dict[Key, Stored] = field(default_factory=dict)
    buffers: dict[BufferName, list[Tagged]] = field(default_factory=dict)
    buffer_since: dict[BufferName, int] = field(default_factory=dict)
    """When each non-empty buffer received its oldest record (R6.2)."""
    batches: list[SealedBatch] = field(default_factory=list)
    next_batch_id: int = 1
    next_serial: int = 1
    delivered_serials: set[int] = field(default_factory=set)
    ledger: dict[str, int] = field(default_factory=dict)
    attributed: dict[Cause, list[int]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    """``batches_sealed``, ``batches_delivered``, ... as in :class:`Metrics`."""
    go_capacity: dict[UserId, int] = field(default_factory=dict)
    """R7.3 ``abort``: the capacity of each user's Go slice of entries."""
    corrupted: dict[UserId, list[tuple[Key, Stored]]] = field(default_factory=dict)
    """R7.3 ``abort``: a user's list as an announce-path panic left it
    (duplicates included); the user's baselines are no longer in ``stored``."""

    @property
    def is_global(self) -> bool:
        """Whether one buffer takes every record (R6.8 ``global``)."""
        return self.config.policy.batch_scope is BatchScope.GLOBAL


COUNTER_NAMES = ("batches_sealed", "batches_delivered", "batches_failed", "records_delivered",
                 "purged_entries", "purges_deferred", "gc_runs", "gc_entries_scanned",
                 "seed_panics")


def new_state(config: Config, identifier: UserIdentifier, now: Seconds) -> ModelState:
    """R0, R6.8, R7: a fresh model at time ``now`` (its clock), GC due
    ``gc_interval`` later, one empty buffer per shard or one global buffer,
    no entries and every count zero."""
    m = ModelState(config=config, identifier=identifier, now=now,
                   next_gc_at=now + config.gc_interval)
    names: list[BufferName] = ([None] if m.is_global
                               else list(range(config.shard_count)))
    m.buffers = {name: [] for name in names}
    m.ledger = dict.fromkeys(LEDGER_NAMES, 0)
    m.attributed = {cause: [0, 0] for cause in ATTRIBUTED_CAUSES}
    m.outcomes = {o.value: 0 for o in Outcome}
    m.rejected = {r.value: 0 for r in RejectCode}
    m.records = {k.value: 0 for k in RecordKind}
    m.counters = dict.fromkeys(COUNTER_NAMES, 0)
    return m


def deliver_serials(m: ModelState, items: list[Tagged]) -> None:
    """R6.4, R11: a record is delivered at most once; one delivered twice is a
    bug of the model (``AssertionError``)."""
    for item in items:
        if item.serial in m.delivered_serials:
            raise AssertionError(f"record {item.serial} was delivered twice: {item.record}")
        m.delivered_serials.add(item.serial)


def users_of(m: ModelState) -> set[UserId]:
    """R2.2: a user exists while it has at least one entry (R7.3: also one
    whose list a seed panic corrupted)."""
    return {key[0] for key in m.stored} | set(m.corrupted)


def entry_count(m: ModelState) -> int:
    """R2.2, R12: the stored baselines, counting a corrupted list's duplicates (R7.3)."""
    return len(m.stored) + sum(len(items) for items in m.corrupted.values())
