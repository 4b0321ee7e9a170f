"""Language-neutral JSON encoding of records, batches and configs.

Used by snapshots and by conformance vectors alike, so one rule holds
everywhere: byte strings are lowercase hex, counters and byte deltas are
decimal *strings* (they can exceed 2**53, past which many JSON parsers lose
precision), times and small counts are JSON integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._config import Config, parse_config
from ._errors import ConfigError, SnapshotError
from ._policy import POLICY_FIELDS
from ._types import Batch, DeltaRecord, Event, InfoHash, PeerId, RecordKind, UserId

JsonObject = dict[str, Any]


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


class Reader:
    """Typed access to a decoded JSON document; errors name the JSON path."""

    def __init__(self, error: type[SnapshotError] = SnapshotError) -> None:
        self._error = error

    def fail(self, path: str, why: str) -> SnapshotError:
        """The error to raise for ``path``."""
        return self._error(path, why)

    def obj(self, value: object, path: str) -> Mapping[str, Any]:
        """``value`` as a JSON object."""
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be an object")
        return value

    def lst(self, value: object, path: str) -> list[Any]:
        """``value`` as a JSON array."""
        if not isinstance(value, list):
            raise self.fail(path, "must be an array")
        return value

    def get(self, doc: Mapping[str, Any], key: str, path: str) -> Any:
        """``doc[key]``, which must be present."""
        if key not in doc:
            raise self.fail(f"{path}.{key}", "is missing")
        return doc[key]

    def int_(self, value: object, path: str) -> int:
        """A JSON integer (not a boolean)."""
        if type(value) is not int:
            raise self.fail(path, f"must be an integer, got {value!r}")
        return value

    def bool_(self, value: object, path: str) -> bool:
        """A JSON boolean."""
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {value!r}")
        return value

    def dec(self, value: object, path: str) -> int:
        """A counter written as a decimal string (an optional leading minus)."""
        if not isinstance(value, str) or not value.lstrip("-").isdigit():
            raise self.fail(path, f"must be a decimal string, got {value!r}")
        return int(value)

    def hexbytes(self, value: object, path: str, length: int) -> bytes:
        """``length`` bytes written as lowercase hex."""
        if not isinstance(value, str):
            raise self.fail(path, f"must be a hex string, got {value!r}")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise self.fail(path, f"is not hex: {value!r}") from None
        if len(raw) != length:
            raise self.fail(path, f"must be {length} bytes, got {len(raw)}")
        return raw

    def record(self, value: object, path: str) -> DeltaRecord:
        """A record as written by :func:`encode_record`."""
        doc = self.obj(value, path)
        try:
            kind = RecordKind(self.get(doc, "kind", path))
            event = Event(self.get(doc, "event", path))
        except ValueError as exc:
            raise self.fail(path, str(exc)) from None
        peer = self.get(doc, "peer_id", path)
        left = self.get(doc, "left", path)
        return DeltaRecord(
            kind,
            UserId(self.hexbytes(self.get(doc, "user", path), f"{path}.user", 16)),
            InfoHash(self.hexbytes(self.get(doc, "info_hash", path), f"{path}.info_hash", 20)),
            None if peer is None else PeerId(self.hexbytes(peer, f"{path}.peer_id", 20)),
            self.dec(self.get(doc, "up", path), f"{path}.up"),
            self.dec(self.get(doc, "down", path), f"{path}.down"),
            event,
            None if left is None else self.dec(left, f"{path}.left"),
            self.int_(self.get(doc, "time", path), f"{path}.time"),
        )

    def batch(self, value: object, path: str) -> Batch:
        """A batch as written by :func:`encode_batch`."""
        doc = self.obj(value, path)
        records = self.lst(self.get(doc, "records", path), f"{path}.records")
        return Batch(
            self.int_(self.get(doc, "batch_id", path), f"{path}.batch_id"),
            self.int_(self.get(doc, "shard", path), f"{path}.shard"),
            tuple(self.record(r, f"{path}.records[{i}]") for i, r in enumerate(records)),
            self.int_(self.get(doc, "sealed_at", path), f"{path}.sealed_at"),
        )

    def config(self, value: object, path: str) -> Config:
        """A config mapping, validated by :func:`parse_config`."""
        try:
            return parse_config(self.obj(value, path))
        except ConfigError as exc:
            raise self.fail(path, str(exc)) from None
