"""Domain values: identities, events, requests, records and batches.

Every value here is immutable and validated when it is built, so the core
never has to re-check what it is handed. Byte identities are ``bytes``
subtypes (``NewType``) so mypy keeps a user id apart from an infohash; the
``make_*`` functions are the only way outside input should become one. In
the same way times and byte counts are ``int`` subtypes: :data:`Seconds`
(a point on the driver's clock), :data:`Duration` (a length of time) and
:data:`ByteCount`, so a call that swaps a time and a counter fails
type-checking. At run time each is a plain ``int``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import NamedTuple, NewType

from ._errors import InvalidInput

UserId = NewType("UserId", bytes)
"""16 opaque bytes identifying a user (the seed's ``ID``)."""

InfoHash = NewType("InfoHash", bytes)
"""The 20-byte BitTorrent v1 infohash (or a truncated v2 hash) of a torrent."""

PeerId = NewType("PeerId", bytes)
"""The 20-byte peer id a client announces with."""

Seconds = NewType("Seconds", int)
"""A point on the driver's clock, in whole seconds (SPEC.md R0).

Every ``now`` the driver passes in, and every stored time (an entry's
``last_seen``, a record's ``time``, a batch's ``sealed_at``, the tracker's
``next_gc_at``). The clock's zero is the driver's choice and the core never
relates it to the calendar: the server passes Unix time, the simulator its
scenario's ``start_epoch`` plus simulated seconds, vectors small numbers from
0. It is never negative and never decreases. (The seed reads a cached wall
clock with the same 1 s resolution.) A length of time is a :data:`Duration`,
not a ``Seconds``: ``Seconds(now + config.gc_interval)`` is a point again.
"""

Duration = NewType("Duration", int)
"""A length of time in whole seconds: the configured intervals and ages
(``gc_interval``, ``peer_lifetime``, ``max_batch_age``, the retry backoff).
Adding one to a :data:`Seconds` gives a plain ``int``; wrap the sum in
``Seconds(...)`` where it becomes a point on the clock again."""

ByteCount = NewType("ByteCount", int)
"""A number of bytes: the counters a client reports (``uploaded``,
``downloaded``, ``left``; absolute totals within ``0 .. 2**64-1``), the
baselines stored from them, the deltas credited in records and results, and
the ledger's totals. A credited delta is signed: only the seed preset ever
makes one negative (R4.1), and it is int64-wrapped (R9.1)."""

UINT64_MAX = 2**64 - 1
"""Largest counter a request may carry at all (the wire type is uint64)."""

INT64_MAX = 2**63 - 1
"""Largest counter the recommended preset accepts (rule R9.2)."""

USER_ID_LEN = 16
INFO_HASH_LEN = 20
PEER_ID_LEN = 20


def _fixed_bytes(field: str, raw: object, length: int) -> bytes:
    if not isinstance(raw, bytes):
        raise InvalidInput(field, raw, f"must be {length} bytes")
    if len(raw) != length:
        raise InvalidInput(field, raw, f"must be exactly {length} bytes, not {len(raw)}")
    return raw


def make_user_id(raw: object) -> UserId:
    """Validate ``raw`` as a user id; raises :class:`InvalidInput` otherwise."""
    return UserId(_fixed_bytes("user_id", raw, USER_ID_LEN))


def make_info_hash(raw: object) -> InfoHash:
    """Validate ``raw`` as an infohash; raises :class:`InvalidInput` otherwise."""
    return InfoHash(_fixed_bytes("info_hash", raw, INFO_HASH_LEN))


def make_peer_id(raw: object) -> PeerId:
    """Validate ``raw`` as a peer id; raises :class:`InvalidInput` otherwise."""
    return PeerId(_fixed_bytes("peer_id", raw, PEER_ID_LEN))


def check_counter(field: str, value: object) -> ByteCount:
    """Return ``value`` as a :data:`ByteCount` if it is an int in ``0 .. 2**64-1``; else raise.

    ``bool`` is refused although it is an ``int`` subclass: ``True`` bytes is
    always a bug in the caller.
    """
    if type(value) is not int:
        raise InvalidInput(field, value, "must be an integer")
    if value < 0:
        raise InvalidInput(field, value, "must not be negative")
    if value > UINT64_MAX:
        raise InvalidInput(field, value, "must fit in an unsigned 64-bit integer")
    return ByteCount(value)


class Event(enum.StrEnum):
    """The announce ``event`` parameter; ``NONE`` is the regular announce."""

    NONE = "none"
    STARTED = "started"
    COMPLETED = "completed"
    STOPPED = "stopped"

    @classmethod
    def parse(cls, text: object) -> Event:
        """Parse a wire value; ``""`` means ``NONE``. Raises :class:`InvalidInput`."""
        if text == "":
            return cls.NONE
        if isinstance(text, str):
            try:
                return cls(text)
            except ValueError:
                pass
        raise InvalidInput("event", text, "must be one of none, started, completed, stopped")


class RecordKind(enum.StrEnum):
    """What a :class:`DeltaRecord` reports."""

    TRANSFER = "transfer"
    """Bytes moved since the last announce (the seed's ``StatDelta``)."""
    EVENT = "event"
    """A zero-byte announce carrying an event (R5.2: snatches stay countable)."""
    PURGE = "purge"
    """A baseline was dropped as stale (R7.4): the database may close the session."""


class Outcome(enum.StrEnum):
    """How one announce was accounted (see SPEC.md R3 to R6.7)."""

    BASELINE = "baseline"
    """No entry existed: the reported counters became the baseline; nothing credited."""
    CREDITED = "credited"
    """An entry existed: the difference was credited (possibly zero)."""
    RESET = "reset"
    """Counters went down or ``started`` re-announced a known entry: new baseline."""
    STOPPED = "stopped"
    """``stopped`` on a known entry: credited, then the entry was removed."""
    STOPPED_UNKNOWN = "stopped_unknown"
    """``stopped`` for an entry the tracker does not have: nothing changed."""
    EXPIRED = "expired"
    """The entry had outlived ``peer_lifetime``: its gap is lost, new baseline."""
    REJECTED = "rejected"
    """The announce was refused; nothing changed (see :class:`RejectCode`)."""


class Cause(enum.StrEnum):
    """Named reasons a reported byte is not credited (the accounting ledger)."""

    BASELINE = "baseline"
    RESET = "reset"
    PURGE_GAP = "purge_gap"
    REJECTED = "rejected"
    DROPPED = "dropped"


class RejectCode(enum.StrEnum):
    """Stable codes for refused announces; conformance vectors compare these."""

    CLOSING = "closing"
    BAD_CREDENTIAL = "bad_credential"
    UNKNOWN_USER = "unknown_user"
    COUNTER_OUT_OF_RANGE = "counter_out_of_range"
    PENDING_FULL = "pending_full"
    HANDLER_FAILED = "handler_failed"


@dataclass(frozen=True, slots=True)
class AnnounceRequest:
    """One announce as the accounting path sees it.

    ``credential`` is the request target the identifier reads (for the
    passkey identifier, ``/<passkey>/announce`` or ``...?passkey=<passkey>``).
    Counters are the absolute totals the client reports. Construction
    validates every field and raises :class:`InvalidInput` naming the first
    bad one.
    """

    credential: str
    info_hash: InfoHash
    peer_id: PeerId
    uploaded: ByteCount
    downloaded: ByteCount
    left: ByteCount
    event: Event = Event.NONE
    ip: str = ""
    port: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.credential, str):
            raise InvalidInput("credential", self.credential, "must be a string")
        make_info_hash(self.info_hash)
        make_peer_id(self.peer_id)
        check_counter("uploaded", self.uploaded)
        check_counter("downloaded", self.downloaded)
        check_counter("left", self.left)
        if not isinstance(self.event, Event):
            raise InvalidInput("event", self.event, "must be an Event")
        if not isinstance(self.ip, str):
            raise InvalidInput("ip", self.ip, "must be a string")
        if type(self.port) is not int or not 0 <= self.port <= 65535:
            raise InvalidInput("port", self.port, "must be an integer in 0..65535")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> AnnounceRequest:
        """Build a request from a mapping of field names to values.

        For decoded input (a query string, a JSON object): a missing required
        field or an unknown key raises :class:`InvalidInput` naming it, and
        ``event`` may be given as its wire text (``""`` means ``none``). The
        values are validated exactly as by the constructor.
        """
        if not isinstance(raw, Mapping):
            raise InvalidInput("request", raw, "must be a mapping of field names to values")
        for name in raw:
            if name not in _REQUEST_FIELDS:
                raise InvalidInput(str(name), raw[name],
                                   f"unknown field; known fields: {list(_REQUEST_FIELDS)}")
        for name in _REQUIRED_FIELDS:
            if name not in raw:
                raise InvalidInput(name, _MISSING, "required field is missing")
        values = dict(raw)
        if "event" in values and not isinstance(values["event"], Event):
            values["event"] = Event.parse(values["event"])
        return cls(**values)  # type: ignore[arg-type]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
_REQUEST_FIELDS = tuple(f.name for f in fields(AnnounceRequest))
_REQUIRED_FIELDS = ("credential", "info_hash", "peer_id", "uploaded", "downloaded", "left")


class DeltaRecord(NamedTuple):
    """One record handed to the DeltaHandler inside a :class:`Batch`.

    ``up``/``down`` are signed: only the seed preset ever produces a negative
    value (R4.1). ``peer_id`` and ``left`` are ``None`` on purge records whose
    entry did not keep them.
    """

    kind: RecordKind
    user: UserId
    info_hash: InfoHash
    peer_id: PeerId | None
    up: ByteCount
    down: ByteCount
    event: Event
    left: ByteCount | None
    time: Seconds


@dataclass(frozen=True, slots=True)
class Batch:
    """A sealed, numbered group of records from one buffer.

    ``shard`` is the shard whose buffer it was sealed from under
    ``batch_scope=shard``, and ``None`` for a batch of the global buffer
    (``batch_scope=global``, SPEC.md R6.8).
    ``batch_id`` increases strictly in sealing order across the whole tracker.
    Under the recommended preset a batch is immutable for its whole life: a
    retry offers the identical object again, so a handler can deduplicate on
    ``batch_id``.
    """

    batch_id: int
    shard: int | None
    records: tuple[DeltaRecord, ...]
    sealed_at: Seconds

    @property
    def up(self) -> ByteCount:
        """Sum of ``up`` over the records."""
        return ByteCount(sum(r.up for r in self.records))

    @property
    def down(self) -> ByteCount:
        """Sum of ``down`` over the records."""
        return ByteCount(sum(r.down for r in self.records))
