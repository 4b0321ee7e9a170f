"""The server's state file: the core's snapshot (R8.3) plus the batch-log epoch.

Layout (JSON)::

    {"format": "privtrak-server-state", "version": 1,
     "epoch": "<32 hex>", "tracker": <privtrak.reference.snapshot(tracker)>}

Written atomically (temporary file, fsync, rename) at shutdown. On start a
state file is restored and then renamed to ``<path>.restored``: were the
process to die later without a new snapshot, starting again from the old
baselines would credit the bytes since then a second time, while starting
without a snapshot only loses the gap. So a state file is used exactly once.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from privtrak.reference import SnapshotError, Tracker, UserIdentifier, restore, snapshot

STATE_FORMAT = "privtrak-server-state"
STATE_VERSION = 1


def new_epoch() -> str:
    """A fresh batch-log epoch: 16 random bytes as hex."""
    return secrets.token_hex(16)


def write_state(path: str | Path, epoch: str, tracker: Tracker) -> None:
    """Write the state file atomically."""
    target = Path(path)
    doc: dict[str, Any] = {"format": STATE_FORMAT, "version": STATE_VERSION, "epoch": epoch,
                           "tracker": snapshot(tracker)}
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"), sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def read_state(path: str | Path, identifier: UserIdentifier) -> tuple[str, Tracker]:
    """(epoch, tracker) from a state file; raises SnapshotError naming what is wrong."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError("$", f"state file {path} cannot be read: {exc}") from None
    if not isinstance(doc, dict):
        raise SnapshotError("$", "must be an object")
    if doc.get("format") != STATE_FORMAT or doc.get("version") != STATE_VERSION:
        raise SnapshotError("$.format", f"expected {STATE_FORMAT} version {STATE_VERSION}")
    epoch = doc.get("epoch")
    if not isinstance(epoch, str) or len(epoch) != 32:
        raise SnapshotError("$.epoch", "must be 32 hexadecimal characters")
    tracker = restore(doc.get("tracker"), identifier)
    return epoch, tracker


def retire_state(path: str | Path) -> Path:
    """Rename a restored state file to ``<path>.restored``; returns the new path."""
    source = Path(path)
    target = source.with_name(source.name + ".restored")
    os.replace(source, target)
    return target
