"""The normative model on its own: the seed's crash (R7.3 abort) for lists of
every capacity, saving and loading its state (R8.3), and its refusals.

The model is compared with the Tracker step by step in test_ref_stateful.py
(live trackers) and over every packaged vector in
tests/conformance/test_model_adapter.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from privtrak.reference import (
    AnnounceRequest,
    Event,
    InfoHash,
    PeerId,
    SnapshotError,
    Tracker,
    TrackerState,
    Unmodelled,
    UsageError,
    UserId,
    parse_config,
    passkey_credential,
)
from privtrak.reference.model import Model

USER = UserId(bytes(15) + b"\x01")
PEER = PeerId(b"\x50" * 20)


def torrent(i: int) -> InfoHash:
    return InfoHash(bytes([i]) * 20)


def request(i: int, up: int = 0, event: Event = Event.NONE) -> AnnounceRequest:
    return AnnounceRequest(passkey_credential(USER), torrent(i), PEER, up, 0, 0, event)


def both(config: dict[str, Any]) -> tuple[Tracker, Model]:
    cfg = parse_config({"preset": "seed", "shard_count": 1, "peer_lifetime": 10, **config})
    return Tracker(cfg, now=0), Model(cfg, now=0)


@pytest.mark.parametrize("kept", range(0, 10))
@pytest.mark.parametrize("last", ["insert", "update", "stopped"])
def test_a_panic_leaves_what_the_tracker_leaves_at_every_list_size(kept: int,
                                                                   last: str) -> None:
    """R7.3 abort: one stale entry first, ``kept`` fresh ones, then an announce
    that inserts, updates or removes; with 1..10 entries the Go slice is full
    or not, so what survives depends on the capacity both must track."""
    tracker, model = both({})
    steps: list[tuple[AnnounceRequest, int]] = [(request(1), 0)]
    steps += [(request(10 + i), 10) for i in range(kept)]
    if last == "insert":
        steps.append((request(100), 11))
    elif kept:
        event = Event.STOPPED if last == "stopped" else Event.NONE
        steps.append((request(10, up=5, event=event), 11))
    for req, now in steps:
        assert tracker.announce(req, now) == model.announce(req, now)
        assert tracker.entries() == model.entries()
        assert tracker.metrics() == model.metrics()
    # The stale entry panics the loop unless it ends up last (alone).
    survivors = kept + (last == "insert") - (last == "stopped" and kept > 0)
    assert model.metrics().seed_panics == (survivors > 0)
    if survivors:
        with pytest.raises(Unmodelled):
            model.announce(request(10 + kept), 12)
        with pytest.raises(Unmodelled):
            model.collect_garbage(12)
        with pytest.raises(Unmodelled):
            model.save()


def test_a_gc_panic_kills_the_model_as_it_kills_the_seed() -> None:
    tracker, model = both({})
    for target in (tracker, model):
        target.announce(request(1), 0)
        target.announce(request(2), 10)
    assert tracker.collect_garbage(11) == model.collect_garbage(11)
    assert model.state is TrackerState.CRASHED and model.next_deadline() is None
    assert tracker.entries() == model.entries()
    with pytest.raises(Unmodelled):
        model.next_batch(12)
    with pytest.raises(Unmodelled):
        model.announce(request(3), 12)


def drive(target: Tracker | Model) -> list[object]:
    """A few announces, a failed delivery and a GC, recording every result."""
    out: list[object] = []
    for i, (t, up) in enumerate([(0, 0), (1, 50), (2, 0), (3, 80), (30, 90)]):
        out.append(target.announce(request(1 + i % 2, up=up), t))
        batch = target.next_batch(t)
        out.append(batch)
        if batch is not None:
            out.append(target.batch_failed(batch.batch_id, t) if i == 1
                       else target.batch_succeeded(batch.batch_id, t))
    out.append(target.collect_garbage(40))
    return out


def test_a_loaded_model_goes_on_exactly_as_the_saved_one() -> None:
    config = {"preset": "recommended", "batch_size": 1, "max_batch_age": 1}
    tracker, model = both(config)
    assert drive(tracker) == drive(model)
    doc = json.loads(json.dumps(model.save()))
    loaded = Model.load(doc)
    assert json.loads(json.dumps(loaded.save())) == doc
    for target in (tracker, model, loaded):
        target.announce(request(1, up=500), 41)
    assert model.ledger() == loaded.ledger() == tracker.ledger()
    assert model.metrics() == loaded.metrics() == tracker.metrics()
    assert model.waiting_batches() == loaded.waiting_batches() == tracker.waiting_batches()
    assert model.next_batch(45) == loaded.next_batch(45) == tracker.next_batch(45)


def test_a_malformed_state_document_names_its_path() -> None:
    doc = Model(parse_config({"preset": "seed", "shard_count": 2})).save()
    with pytest.raises(SnapshotError, match=r"\$: is not a privtrak-model-state"):
        Model.load({**doc, "version": 2})
    with pytest.raises(SnapshotError, match=r"\$\.buffers\[1\]\.shard"):
        Model.load({**doc, "buffers": [doc["buffers"][0], doc["buffers"][0]]})
    with pytest.raises(SnapshotError, match=r"\$\.entries\[0\]\[3\]"):
        Model.load({**doc, "entries": [[USER.hex(), torrent(1).hex(), None, "x", "0", 0,
                                        False]]})


def test_usage_errors_change_nothing_not_even_the_clock() -> None:
    _, model = both({"preset": "recommended"})
    model.announce(request(1), 5)
    with pytest.raises(UsageError):
        model.announce(request(1), 4)
    with pytest.raises(UsageError):
        model.batch_succeeded(7, 9)
    with pytest.raises(UsageError):
        Model(now=-1)
    assert model.now == 5
