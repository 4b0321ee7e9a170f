"""Named policies: every point where the seed is defective or silent.

A :class:`Policy` fixes one choice per point. Two presets exist:

* ``SEED`` reproduces the Go middleware's observable behaviour (minus its
  crash, which the tracker reports instead, see SPEC.md R7.3);
* ``RECOMMENDED`` is what a correct private tracker does, and the default.

Each field names the SPEC.md rule that decides it. Any mix is allowed, so a
user can take the recommended preset and re-enable one seed behaviour to
measure what it costs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType


class BaselineKey(enum.StrEnum):
    """R2.1: what one stored baseline belongs to."""

    USER_TORRENT = "user_torrent"
    USER_TORRENT_PEER = "user_torrent_peer"


class CounterDecrease(enum.StrEnum):
    """R4.1: reported counters lower than the baseline."""

    NEGATIVE_DELTA = "negative_delta"
    RESET = "reset"


class StartedOnKnown(enum.StrEnum):
    """R4.2: ``started`` for an entry the tracker already has."""

    CONTINUE = "continue"
    RESET = "reset"


class StoppedUnknown(enum.StrEnum):
    """R5.3: ``stopped`` for an entry the tracker does not have."""

    INSERT_BASELINE = "insert_baseline"
    IGNORE = "ignore"


class StaleOnAnnounce(enum.StrEnum):
    """R7.2: an announce finds an entry older than ``peer_lifetime`` not yet purged."""

    REVIVE = "revive"
    EXPIRE = "expire"


class BatchScope(enum.StrEnum):
    """R6.8: which records one batch may hold."""

    SHARD = "shard"
    GLOBAL = "global"


class FlushPath(enum.StrEnum):
    """R6.3: who delivers a batch sealed by the size trigger."""

    ANNOUNCE = "announce"
    BACKGROUND = "background"


class FailedBatch(enum.StrEnum):
    """R6.5: what happens to a batch whose delivery failed."""

    MERGE = "merge"
    RETAIN = "retain"


class HandlerFailure(enum.StrEnum):
    """R6.6: whether a failed on-path delivery fails the announce that triggered it."""

    FAIL_ANNOUNCE = "fail_announce"
    ANNOUNCE_UNAFFECTED = "announce_unaffected"


class StopUndelivered(enum.StrEnum):
    """R8.2: batches that could not be delivered during stop."""

    DROP = "drop"
    RETURN = "return"


class ExpiryPanic(enum.StrEnum):
    """R7.3: what happens where the seed's expiry loop panics (defect 1)."""

    ABORT = "abort"
    """The seed: the purge stops where Go panics and leaves what Go leaves."""
    COMPLETE = "complete"
    """Every stale entry is purged; the panic is only reported."""


class StopEntries(enum.StrEnum):
    """R8.3: whether the stored baselines outlive ``stop``."""

    FORGET = "forget"
    """The seed: ``Stop`` replaces every shard with an empty one."""
    KEEP = "keep"
    """Baselines stay, so a snapshot taken after stop still holds them."""


class CounterLimit(enum.StrEnum):
    """R9.2: counters above 2**63-1."""

    WRAP = "wrap"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Policy:
    """One choice per specified point; see the module docstring."""

    baseline_key: BaselineKey
    counter_decrease: CounterDecrease
    started_on_known: StartedOnKnown
    stopped_unknown: StoppedUnknown
    event_records: bool
    """R5.2: emit a record for zero-byte announces that carry an event."""
    stale_on_announce: StaleOnAnnounce
    purge_on_announce: bool
    """R7.1: each announce also purges the announcing user's other stale entries."""
    purge_records: bool
    """R7.4: emit a purge record when a stale entry is dropped."""
    batch_scope: BatchScope
    flush_path: FlushPath
    flush_on_gc: bool
    """R6.2: garbage collection also seals every non-empty buffer."""
    failed_batch: FailedBatch
    handler_failure: HandlerFailure
    stop_undelivered: StopUndelivered
    counter_limit: CounterLimit
    expiry_panic: ExpiryPanic
    stop_entries: StopEntries


SEED = Policy(
    baseline_key=BaselineKey.USER_TORRENT,
    counter_decrease=CounterDecrease.NEGATIVE_DELTA,
    started_on_known=StartedOnKnown.CONTINUE,
    stopped_unknown=StoppedUnknown.INSERT_BASELINE,
    event_records=False,
    stale_on_announce=StaleOnAnnounce.REVIVE,
    purge_on_announce=True,
    purge_records=False,
    batch_scope=BatchScope.SHARD,
    flush_path=FlushPath.ANNOUNCE,
    flush_on_gc=False,
    failed_batch=FailedBatch.MERGE,
    handler_failure=HandlerFailure.FAIL_ANNOUNCE,
    stop_undelivered=StopUndelivered.DROP,
    counter_limit=CounterLimit.WRAP,
    expiry_panic=ExpiryPanic.ABORT,
    stop_entries=StopEntries.FORGET,
)
"""The Go middleware's behaviour."""

RECOMMENDED = Policy(
    baseline_key=BaselineKey.USER_TORRENT_PEER,
    counter_decrease=CounterDecrease.RESET,
    started_on_known=StartedOnKnown.RESET,
    stopped_unknown=StoppedUnknown.IGNORE,
    event_records=True,
    stale_on_announce=StaleOnAnnounce.EXPIRE,
    purge_on_announce=False,
    purge_records=True,
    batch_scope=BatchScope.GLOBAL,
    flush_path=FlushPath.BACKGROUND,
    flush_on_gc=True,
    failed_batch=FailedBatch.RETAIN,
    handler_failure=HandlerFailure.ANNOUNCE_UNAFFECTED,
    stop_undelivered=StopUndelivered.RETURN,
    counter_limit=CounterLimit.REJECT,
    expiry_panic=ExpiryPanic.COMPLETE,
    stop_entries=StopEntries.KEEP,
)
"""What a correct private tracker does; the default."""

PRESETS: Mapping[str, Policy] = MappingProxyType({"seed": SEED, "recommended": RECOMMENDED})
"""Preset name -> its policy; read-only (a preset is part of the specification)."""

POLICY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Policy))

POLICY_RULES: Mapping[str, str] = MappingProxyType({
    "baseline_key": "R2.1",
    "counter_decrease": "R4.1",
    "started_on_known": "R4.2",
    "stopped_unknown": "R5.3",
    "event_records": "R5.2",
    "stale_on_announce": "R7.2",
    "purge_on_announce": "R7.1",
    "purge_records": "R7.4",
    "batch_scope": "R6.8",
    "flush_path": "R6.3",
    "flush_on_gc": "R6.2",
    "failed_batch": "R6.5",
    "handler_failure": "R6.6",
    "stop_undelivered": "R8.2",
    "counter_limit": "R9.2",
    "expiry_panic": "R7.3",
    "stop_entries": "R8.3",
})
"""Policy field -> the SPEC.md rule that specifies it (the one its docstring names)."""


def policy_values(name: str) -> tuple[str, ...] | tuple[bool, ...]:
    """The values policy field ``name`` may take, in declaration order.

    ``(False, True)`` for a boolean field. Raises ``KeyError`` for a name that
    is not in :data:`POLICY_FIELDS`.
    """
    if name not in POLICY_FIELDS:
        raise KeyError(f"no policy field {name!r}")
    value = getattr(SEED, name)
    if isinstance(value, bool):
        return (False, True)
    return tuple(member.value for member in type(value))
