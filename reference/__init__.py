"""privtrak.reference: the executable specification of private-tracker accounting.

Start with :class:`Tracker` (the state machine, its module docstring lists
every rule in order) and ``SPEC.md`` beside this package's source, which
states each rule with its reason and the seed's behaviour where it differs.
:mod:`privtrak.reference.ids` builds readable users, torrents and peers from
small numbers (the ids of the conformance vectors and the tests).
"""

from __future__ import annotations

from typing import Any

from ._batching import BatcherState, BufferState, Pending
from ._codec import config_to_mapping, encode_batch, encode_record
from ._config import Config, default_config, parse_config, parse_go_duration
from ._errors import (
    ConfigError,
    InvalidInput,
    PrivtrakError,
    SnapshotError,
    Unmodelled,
    UsageError,
)
from ._export import EntryState, TrackerExport, UserState
from ._identify import (
    IdentificationError,
    PasskeyIdentifier,
    UserIdentifier,
    parse_passkey,
    passkey_credential,
)
from ._policy import (
    PRESETS,
    RECOMMENDED,
    SEED,
    BaselineKey,
    BatchScope,
    CounterDecrease,
    CounterLimit,
    ExpiryPanic,
    FailedBatch,
    FlushPath,
    HandlerFailure,
    Policy,
    StaleOnAnnounce,
    StartedOnKnown,
    StopEntries,
    StoppedUnknown,
    StopUndelivered,
)
from ._results import (
    AnnounceResult,
    CloseReport,
    EntryView,
    GcResult,
    Ledger,
    Metrics,
    TrackerState,
)
from ._shard import fnv1a_32, shard_of
from ._snapshot import restore_snapshot, take_snapshot
from ._tracker import Tracker, wrap_int64
from ._types import (
    INT64_MAX,
    UINT64_MAX,
    AnnounceRequest,
    Batch,
    ByteCount,
    Cause,
    DeltaRecord,
    Duration,
    Event,
    InfoHash,
    Outcome,
    PeerId,
    RecordKind,
    RejectCode,
    Seconds,
    UserId,
    check_counter,
    make_info_hash,
    make_peer_id,
    make_user_id,
)


def snapshot(tracker: Tracker) -> dict[str, Any]:
    """The complete state of ``tracker`` as a JSON-ready document (R8.3)."""
    return take_snapshot(tracker)


def restore(doc: object, identifier: UserIdentifier | None = None,
            tracker_class: type[Tracker] = Tracker) -> Tracker:
    """Rebuild a tracker from :func:`snapshot` output, as an instance of
    ``tracker_class`` (a :class:`Tracker` subclass); raises SnapshotError."""
    return restore_snapshot(doc, identifier, tracker_class)


__all__ = [
    "INT64_MAX",
    "PRESETS",
    "RECOMMENDED",
    "SEED",
    "UINT64_MAX",
    "AnnounceRequest",
    "AnnounceResult",
    "BaselineKey",
    "Batch",
    "BatchScope",
    "BatcherState",
    "BufferState",
    "ByteCount",
    "Cause",
    "CloseReport",
    "Config",
    "ConfigError",
    "CounterDecrease",
    "CounterLimit",
    "DeltaRecord",
    "Duration",
    "EntryState",
    "EntryView",
    "Event",
    "ExpiryPanic",
    "FailedBatch",
    "FlushPath",
    "GcResult",
    "HandlerFailure",
    "IdentificationError",
    "InfoHash",
    "InvalidInput",
    "Ledger",
    "Metrics",
    "Outcome",
    "PasskeyIdentifier",
    "PeerId",
    "Pending",
    "Policy",
    "PrivtrakError",
    "RecordKind",
    "RejectCode",
    "Seconds",
    "SnapshotError",
    "StaleOnAnnounce",
    "StartedOnKnown",
    "StopEntries",
    "StopUndelivered",
    "StoppedUnknown",
    "Tracker",
    "TrackerExport",
    "TrackerState",
    "Unmodelled",
    "UsageError",
    "UserId",
    "UserIdentifier",
    "UserState",
    "check_counter",
    "config_to_mapping",
    "default_config",
    "encode_batch",
    "encode_record",
    "fnv1a_32",
    "make_info_hash",
    "make_peer_id",
    "make_user_id",
    "parse_config",
    "parse_go_duration",
    "parse_passkey",
    "passkey_credential",
    "restore",
    "shard_of",
    "snapshot",
    "wrap_int64",
]
