"""Small builders shared by the rule-by-rule tests of the reference core.

Ids are built from small integers so expected values stay readable:
``uid(1)`` is fifteen zero bytes then 0x01, ``ih(2)`` is twenty 0x02 bytes.
"""

from __future__ import annotations

import copy
from typing import Any

from privtrak.reference import (
    AnnounceRequest,
    Batch,
    Event,
    InfoHash,
    PeerId,
    Tracker,
    UserId,
    parse_config,
    snapshot,
)


def uid(n: int) -> UserId:
    """The user id whose 16 bytes are ``n`` big-endian."""
    return UserId(n.to_bytes(16, "big"))


def ih(n: int) -> InfoHash:
    """Twenty bytes of value ``n``."""
    return InfoHash(bytes([n]) * 20)


def pid(n: int) -> PeerId:
    """Twenty bytes of value ``0x40 + n``."""
    return PeerId(bytes([0x40 + n]) * 20)


def cred(user: int) -> str:
    """The path-form passkey credential of ``uid(user)``."""
    return "/" + uid(user).hex() + "/announce"


def req(*, user: int = 1, torrent: int = 1, peer: int = 1, up: int = 0, down: int = 0,
        left: int = 0, event: Event = Event.NONE) -> AnnounceRequest:
    """An announce of ``uid(user)`` on ``ih(torrent)`` from ``pid(peer)``."""
    return AnnounceRequest(cred(user), ih(torrent), pid(peer), up, down, left, event,
                           "192.0.2.1", 6881)


def make(preset: str = "recommended", now: int = 0, **keys: Any) -> Tracker:
    """A tracker of ``preset`` with config ``keys`` overridden."""
    return Tracker(parse_config({"preset": preset, **keys}), now=now)


def deliver_all(tracker: Tracker, now: int, ok: bool = True) -> list[Batch]:
    """Take every due batch and report each as delivered (or failed)."""
    done: list[Batch] = []
    while (batch := tracker.next_batch(now)) is not None:
        if ok:
            tracker.batch_succeeded(batch.batch_id, now)
        else:
            tracker.batch_failed(batch.batch_id, now)
        done.append(batch)
        if not ok:
            break
    return done


def state_doc(tracker: Tracker) -> dict[str, Any]:
    """The tracker's snapshot without its counters: the accounting state proper."""
    doc = copy.deepcopy(snapshot(tracker))
    del doc["counts"]
    return doc


def counts(tracker: Tracker) -> dict[str, int]:
    """The tracker's counters as the snapshot records them."""
    return dict(snapshot(tracker)["counts"])
