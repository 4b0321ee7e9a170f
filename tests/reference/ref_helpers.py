"""Small builders shared by the rule-by-rule tests of the reference core.

Ids are the small-number ids of :mod:`privtrak.reference.ids`, under short
names: ``uid(1)`` is fifteen 0x11 bytes then 0x00, ``ih(2)`` twenty 0xA2
bytes, ``pid(3)`` twenty 0xC3 bytes.
"""

from __future__ import annotations

import copy
from typing import Any

from privtrak.reference import (
    AnnounceRequest,
    Batch,
    Event,
    Tracker,
    ids,
    parse_config,
    snapshot,
)

uid = ids.user
"""User ``n`` (0..15) of :mod:`privtrak.reference.ids`: ``n * 0x11`` fifteen times, then 0x00."""
ih = ids.torrent
"""Torrent ``n`` (0..31): twenty bytes of ``0xA0 + n``."""
pid = ids.peer
"""Peer ``n`` (0..63): twenty bytes of ``0xC0 + n``."""
cred = ids.passkey_path
"""The path-form passkey credential of ``uid(user)``."""


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
