"""Stop, close and snapshot/restore (R8)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ref_helpers import deliver_all, make, req, state_doc, uid

from privtrak.reference import (
    Batch,
    Event,
    Outcome,
    RejectCode,
    SnapshotError,
    Tracker,
    TrackerState,
    UsageError,
    restore,
    snapshot,
)


def busy(preset: str, **keys: Any) -> Tracker:
    """A tracker with credit in buffers of two shards."""
    t = make(preset, shard_count=2, **keys)
    for user in (1, 2, 3):
        t.announce(req(user=user), now=0)
    for user in (1, 2, 3):
        t.announce(req(user=user, up=10 * user), now=1)
    return t


def test_life_cycle_and_its_usage_errors() -> None:
    """R8: open -> stop -> stopping -> close -> closed; out-of-order calls raise."""
    t = busy("recommended")
    assert t.state is TrackerState.OPEN
    with pytest.raises(UsageError, match="call stop"):
        t.close(now=1)
    handed = t.stop(now=2)
    assert t.state is TrackerState.STOPPING
    with pytest.raises(UsageError):
        t.stop(now=2)
    with pytest.raises(UsageError, match="in flight"):
        t.close(now=2)
    for b in handed:
        t.batch_succeeded(b.batch_id, now=2)
    report = t.close(now=3)
    assert t.state is TrackerState.CLOSED
    assert report.returned == () and report.dropped_records == 0
    assert t.next_deadline() is None
    with pytest.raises(UsageError):
        t.next_batch(now=3)
    with pytest.raises(UsageError):
        t.close(now=3)


def test_stop_seals_everything_and_ignores_backoff() -> None:
    """R8: stop seals every buffer and hands out every waiting batch, backoff or not."""
    t = busy("recommended", max_batch_age="off", retry_backoff_initial="1h",
             retry_backoff_max="1h")
    t.collect_garbage(now=1)  # flush_on_gc: one batch per shard
    first = t.next_batch(now=1)
    assert first is not None
    t.batch_failed(first.batch_id, now=1)  # backing off for an hour
    t.announce(req(user=1, up=99), now=2)
    handed = t.stop(now=3)
    assert [b.batch_id for b in handed] == sorted(b.batch_id for b in handed)
    assert first in handed
    assert sum(r.up for b in handed for r in b.records) == 10 + 20 + 30 + 89
    assert t.metrics().in_flight_batches == len(handed)
    assert t.metrics().buffered_records == 0


@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_announces_are_refused_while_stopping_and_after_close(preset: str) -> None:
    """R8.1: after stop every announce is rejected with closing and changes nothing."""
    t = busy(preset)
    handed = t.stop(now=2)
    before = state_doc(t)
    r = t.announce(req(user=1, up=500), now=2)
    assert (r.outcome, r.reject) == (Outcome.REJECTED, RejectCode.CLOSING)
    assert state_doc(t) == before
    for b in handed:
        t.batch_succeeded(b.batch_id, now=2)
    t.close(now=2)
    assert t.announce(req(user=9, event=Event.STARTED), now=3).reject is RejectCode.CLOSING
    assert t.metrics().rejected["closing"] == 2


def test_recommended_returns_undelivered_batches() -> None:
    """R8.2: stop_undelivered=return: failed batches come back from close, in the ledger."""
    t = busy("recommended")
    handed = t.stop(now=2)
    failed: list[Batch] = []
    for b in handed:
        if any(r.user == uid(2) for r in b.records):
            t.batch_failed(b.batch_id, now=2)
            failed.append(b)
        else:
            t.batch_succeeded(b.batch_id, now=2)
    report = t.close(now=2)
    assert report.returned == tuple(failed) and report.dropped_records == 0
    lg = t.ledger()
    returned_up = sum(r.up for b in failed for r in b.records)
    assert returned_up >= 20
    assert (lg.returned_up, lg.dropped_up, lg.pending_up) == (returned_up, 0, 0)
    assert lg.delivered_up + lg.returned_up == lg.credited_up == 60


def test_seed_drops_undelivered_batches() -> None:
    """R8.2: stop_undelivered=drop: failed stop batches are dropped and counted."""
    t = busy("seed")
    handed = t.stop(now=2)
    assert len(handed) == len({b.shard for b in handed})  # one batch per shard
    for b in handed:
        t.batch_failed(b.batch_id, now=2)
    report = t.close(now=2)
    assert report.returned == () and report.dropped_records == 3
    lg = t.ledger()
    assert (lg.dropped_up, lg.returned_up, lg.delivered_up, lg.pending_up) == (60, 0, 0, 0)
    assert t.metrics().pending_records == 0


def test_waiting_batches_at_close_are_settled_too() -> None:
    """R8.2: a batch retried during stop that fails again is still returned at close."""
    t = busy("recommended", retry_backoff_initial=1)
    handed = t.stop(now=2)
    for b in handed:
        t.batch_failed(b.batch_id, now=2)
    retried = deliver_all(t, now=3, ok=False)
    assert len(retried) == 1
    report = t.close(now=3)
    assert sorted(b.batch_id for b in report.returned) == sorted(b.batch_id for b in handed)


def _run(t: Tracker, start: int) -> list[Any]:
    """A fixed continuation: announces, GC, deliveries with one failure, stop and close."""
    seen: list[Any] = []
    now = start
    for step in range(12):
        now += 5
        r = t.announce(req(user=1 + step % 3, torrent=1 + step % 2, up=100 * step), now)
        seen.append((r.outcome, r.credited_up, r.flush))
        if r.flush is not None:
            if step == 7:
                seen.append(t.batch_failed(r.flush.batch_id, now))
            else:
                t.batch_succeeded(r.flush.batch_id, now)
        if step % 4 == 3:
            seen.append(t.collect_garbage(now))
        b = t.next_batch(now)
        if b is not None:
            seen.append(b)
            if step == 5:
                t.batch_failed(b.batch_id, now)
            else:
                t.batch_succeeded(b.batch_id, now)
    handed = t.stop(now + 1)
    seen.append(handed)
    for b in handed:
        t.batch_succeeded(b.batch_id, now + 1)
    seen.append(t.close(now + 2))
    seen.append(t.ledger())
    seen.append(t.metrics())
    return seen


@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_restore_continues_exactly_as_without_stopping(preset: str) -> None:
    """R8.3: restore(snapshot) through JSON text is identical and continues identically."""
    keys = {"batch_size": 2, "shard_count": 2, "peer_lifetime": 20, "max_batch_age": 5}
    if preset == "seed":
        keys["max_batch_age"] = "off"
        keys["expiry_panic"] = "complete"  # _run's GC would kill the seed (R7.3 abort)
    t = make(preset, **keys)
    for user in (1, 2, 3):
        t.announce(req(user=user, torrent=1), now=0)
        t.announce(req(user=user, torrent=2), now=0)
    t.announce(req(user=1, up=40), now=2)
    doc = snapshot(t)
    text = json.dumps(doc, sort_keys=True)
    twin = restore(json.loads(text))
    assert json.dumps(snapshot(twin), sort_keys=True) == text
    assert _run(twin, 2) == _run(t, 2)


def test_snapshot_keeps_batches_in_flight_and_reoffer_makes_them_wait() -> None:
    """R8.3: in-flight batches stay in flight; reoffer_in_flight makes them waiting again."""
    t = busy("recommended", max_batch_age=1)
    b = t.next_batch(now=5)
    assert b is not None
    twin = restore(snapshot(t))
    assert twin.in_flight_batches() == [b]
    assert twin.reoffer_in_flight() == [b.batch_id]
    assert twin.in_flight_batches() == []
    again = twin.next_batch(now=5)
    assert again == b and twin.attempts(b.batch_id) == 2


def test_version_1_snapshots_load_as_shard_scope() -> None:
    """R8.3, R6.8: a version 1 document (no batch_scope, shard batches) still loads, read
    as batch_scope shard, and the restored tracker continues as the original."""
    t = busy("recommended", batch_scope="shard")
    assert t.next_batch(now=12) is not None
    doc = json.loads(json.dumps(snapshot(t)))
    old = json.loads(json.dumps(doc))
    old["version"] = 1
    del old["config"]["batch_scope"]
    twin = restore(old)
    assert twin.config.policy.batch_scope == "shard"
    assert snapshot(twin) == doc
    with pytest.raises(SnapshotError, match=r"batch.shard: must be null \(batch_scope global\)"):
        restore({**doc, "config": {**doc["config"], "batch_scope": "global"}})


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.update(format="other"), "$.format"),
    (lambda d: d.update(version=3), "$.version"),
    (lambda d: d.update(version="2"), "$.version"),
    (lambda d: d.update(version=1), "$.config.batch_scope"),
    (lambda d: d["buffers"][0].update(shard=0), "$.buffers[0].shard"),
    (lambda d: d["buffers"].append(d["buffers"][0]), "$.buffers[1].shard"),
    (lambda d: d.pop("users"), "$.users"),
    (lambda d: d["users"][0].update(user="zz"), "$.users[0].user"),
    (lambda d: d["users"][0].update(shard=99), "$.users[0].shard"),
    (lambda d: d["users"][0]["entries"][0].update(up=12), "$.users[0].entries[0].up"),
    (lambda d: d["config"].update(batch_size=-1), "$.config"),
    (lambda d: d.update(state="paused"), "$.state"),
    (lambda d: d.update(now=-1), "$.now"),
    (lambda d: d.update(now="5"), "$.now"),
    (lambda d: d["buffers"][0]["records"][0].update(kind="gift"), "$.buffers[0].records[0]"),
])
def test_malformed_snapshots_name_the_json_path(mutate: Any, path: str) -> None:
    """R8.3: a bad document raises SnapshotError naming the JSON path of the problem."""
    doc = json.loads(json.dumps(snapshot(busy("recommended"))))
    mutate(doc)
    with pytest.raises(SnapshotError) as exc:
        restore(doc)
    assert exc.value.path.startswith(path)
