"""Language-neutral JSON encoding of records, batches and configs.

Used by snapshots and by conformance vectors alike, so one rule holds
everywhere: byte strings are lowercase hex, counters and byte deltas are
decimal *strings* (they can exceed 2**53, past which many JSON parsers lose
precision), times and small counts are JSON integers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._config import Config, parse_config
from ._errors import ConfigError, SnapshotError
from ._policy import POLICY_FIELDS
from ._types import (
    UINT64_MAX,
    Batch,
    ByteCount,
    DeltaRecord,
    Event,
    InfoHash,
    PeerId,
    RecordKind,
    Seconds,
    UserId,
)

JsonObject = dict[str, Any]
E = TypeVar("E", bound=enum.StrEnum)


def encode_record(record: DeltaRecord) -> JsonObject:
    """A record as a JSON object (see the module docstring for the rules)."""
    return {
        "kind": record.kind.value,
        "user": record.user.hex(),
        "info_hash": record.info_hash.hex(),
        "peer_id": None if record.peer_id is None else record.peer_id.hex(),
        "up": str(record.up),
        "down": str(record.down),
        "event": record.event.value,
        "left": None if record.left is None else str(record.left),
        "time": record.time,
    }


def encode_batch(batch: Batch) -> JsonObject:
    """A batch as a JSON object, records in delivery order."""
    return {
        "batch_id": batch.batch_id,
        "shard": batch.shard,
        "sealed_at": batch.sealed_at,
        "records": [encode_record(r) for r in batch.records],
    }


def config_to_mapping(config: Config) -> JsonObject:
    """Every key of ``config``, in the form :func:`parse_config` reads back.

    ``parse_config(config_to_mapping(c)) == c`` holds for every valid config.
    """
    out: JsonObject = {"preset": config.preset}
    for key in ("batch_size", "shard_count", "gc_interval", "peer_lifetime",
                "prometheus_reporting_interval", "retry_backoff_initial", "retry_backoff_max"):
        out[key] = getattr(config, key)
    for key in ("max_batch_age", "max_pending"):
        value = getattr(config, key)
        out[key] = "off" if value is None else value
    for key in POLICY_FIELDS:
        value = getattr(config.policy, key)
        out[key] = value if isinstance(value, bool) else str(value)
    return out


_DEC = re.compile(r"^(0|-?[1-9][0-9]*)$")
_HEX = re.compile(r"^[0-9a-f]*$")
_RECORD_KEYS = ("kind", "user", "info_hash", "peer_id", "up", "down", "event", "left", "time")
_BATCH_KEYS = ("batch_id", "shard", "sealed_at", "records")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Reader:
    """Strict typed access to a decoded JSON document; every error names the
    JSON path of the offending value.

    ``fail(path, why)`` builds the exception to raise: snapshots raise
    :class:`SnapshotError`, conformance vectors their own error that also
    names the file, case and step.
    """

    def __init__(self, fail: Callable[[str, str], Exception] = SnapshotError) -> None:
        self._fail = fail

    def fail(self, path: str, why: str) -> Exception:
        """The error to raise for ``path``."""
        return self._fail(path, why)

    def obj(self, value: object, path: str,
            keys: tuple[str, ...] | None = None) -> Mapping[str, Any]:
        """``value`` as a JSON object; with ``keys``, exactly those keys."""
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be an object, got {_show(value)}")
        if keys is not None:
            for key in keys:
                if key not in value:
                    raise self.fail(f"{path}.{key}", "is missing")
            extra = sorted(str(k) for k in value if k not in keys)
            if extra:
                raise self.fail(f"{path}.{extra[0]}",
                                f"unknown key; expected only {list(keys)}")
        return value

    def lst(self, value: object, path: str) -> list[Any]:
        """``value`` as a JSON array."""
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array, got {_show(value)}")
        return value

    def get(self, doc: Mapping[str, Any], key: str, path: str) -> Any:
        """``doc[key]``, which must be present."""
        if key not in doc:
            raise self.fail(f"{path}.{key}", "is missing")
        return doc[key]

    def int_(self, value: object, path: str, minimum: int = 0) -> int:
        """A JSON integer (not a boolean) of at least ``minimum``."""
        if type(value) is not int:
            raise self.fail(path, f"must be an integer, got {_show(value)}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum}, got {value}")
        return value

    def shard(self, value: object, path: str) -> int | None:
        """A batch's shard: an integer, or ``null`` for a global batch (R6.8)."""
        return None if value is None else self.int_(value, path)

    def bool_(self, value: object, path: str) -> bool:
        """A JSON boolean."""
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {_show(value)}")
        return value

    def str_(self, value: object, path: str) -> str:
        """A JSON string."""
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {_show(value)}")
        return value

    def dec(self, value: object, path: str, unsigned: bool = False) -> int:
        """A decimal string: no leading zeros, no plus sign; a minus unless unsigned."""
        if not isinstance(value, str) or not _DEC.match(value):
            raise self.fail(path, f"must be a decimal string such as \"123\", got {_show(value)}")
        number = int(value)
        if unsigned and not 0 <= number <= UINT64_MAX:
            raise self.fail(path, f"must be in 0..2**64-1, got {value}")
        return number

    def hexbytes(self, value: object, path: str, length: int) -> bytes:
        """``length`` bytes written as lowercase hex."""
        if not isinstance(value, str) or not _HEX.match(value) or len(value) != 2 * length:
            raise self.fail(path, f"must be {2 * length} lowercase hex digits, got "
                                  f"{_show(value)}")
        return bytes.fromhex(value)

    def enum_(self, kind: type[E], value: object, path: str) -> E:
        """A member of the string enum ``kind``, by value."""
        if isinstance(value, str):
            try:
                return kind(value)
            except ValueError:
                pass
        choices = ", ".join(m.value for m in kind)
        raise self.fail(path, f"must be one of {choices}, got {_show(value)}")

    def record(self, value: object, path: str) -> DeltaRecord:
        """A record as written by :func:`encode_record`."""
        doc = self.obj(value, path, _RECORD_KEYS)
        peer, left = doc["peer_id"], doc["left"]
        return DeltaRecord(
            self.enum_(RecordKind, doc["kind"], f"{path}.kind"),
            UserId(self.hexbytes(doc["user"], f"{path}.user", 16)),
            InfoHash(self.hexbytes(doc["info_hash"], f"{path}.info_hash", 20)),
            None if peer is None else PeerId(self.hexbytes(peer, f"{path}.peer_id", 20)),
            ByteCount(self.dec(doc["up"], f"{path}.up")),
            ByteCount(self.dec(doc["down"], f"{path}.down")),
            self.enum_(Event, doc["event"], f"{path}.event"),
            None if left is None else ByteCount(self.dec(left, f"{path}.left", unsigned=True)),
            Seconds(self.int_(doc["time"], f"{path}.time")),
        )

    def batch(self, value: object, path: str) -> Batch:
        """A batch as written by :func:`encode_batch`."""
        doc = self.obj(value, path, _BATCH_KEYS)
        records = self.lst(doc["records"], f"{path}.records")
        return Batch(
            self.int_(doc["batch_id"], f"{path}.batch_id", 1),
            self.shard(doc["shard"], f"{path}.shard"),
            tuple(self.record(r, f"{path}.records[{i}]") for i, r in enumerate(records)),
            Seconds(self.int_(doc["sealed_at"], f"{path}.sealed_at")),
        )

    def config(self, value: object, path: str) -> Config:
        """A config mapping, validated by :func:`parse_config`."""
        try:
            return parse_config(self.obj(value, path))
        except ConfigError as exc:
            raise self.fail(path, str(exc)) from None
