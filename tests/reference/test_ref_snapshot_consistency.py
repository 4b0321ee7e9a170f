"""R8.3: restore refuses a snapshot whose parts disagree with each other."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from ref_helpers import make, req, uid

from privtrak.reference import Event, SnapshotError, Tracker, restore, snapshot
from privtrak.reference._shard import shard_of

SHARDS = 2


def _users_of_shard(shard: int, count: int = 2) -> list[int]:
    """The first ``count`` small user numbers whose user id hashes to ``shard``."""
    return [n for n in range(1, 16) if shard_of(uid(n), SHARDS) == shard][:count]


def lively(scope: str = "shard") -> Tracker:
    """A tracker with a batch in flight, one waiting, and records buffered in both shards."""
    t = make("recommended", shard_count=SHARDS, batch_scope=scope, max_batch_age="off",
             retry_backoff_initial="1h", retry_backoff_max="1h")
    users = _users_of_shard(0) + _users_of_shard(1)
    for user in users:
        t.announce(req(user=user), now=0)
    for user in users:
        t.announce(req(user=user, up=10), now=1)
    t.collect_garbage(now=1)  # flush_on_gc seals every buffer
    first = t.next_batch(now=2)
    assert first is not None
    for user in users:
        t.announce(req(user=user, up=25), now=3)
    return t


def doc_of(t: Tracker) -> dict[str, Any]:
    """``t``'s snapshot as it comes back from JSON."""
    doc: dict[str, Any] = json.loads(json.dumps(snapshot(t)))
    return doc


def refused(doc: dict[str, Any]) -> SnapshotError:
    """The SnapshotError restore raises for ``doc``."""
    with pytest.raises(SnapshotError) as exc:
        restore(doc)
    return exc.value


def test_the_fixture_has_every_part_and_restores() -> None:
    doc = doc_of(lively())
    assert len(doc["buffers"]) == SHARDS
    assert len(doc["waiting"]) == 1 and len(doc["in_flight"]) == 1
    assert doc_of(restore(doc)) == doc


def test_a_record_in_another_shards_buffer_is_refused() -> None:
    doc = doc_of(lively())
    stray = doc["buffers"][1]["records"][0]
    doc["buffers"][0]["records"].append(stray)
    err = refused(doc)
    assert err.path == "$.buffers[0].records[2].user"
    assert "belongs to shard 1" in err.why and "not to shard 0" in err.why


def test_a_record_in_another_shards_batch_is_refused() -> None:
    doc = doc_of(lively())
    batch = doc["waiting"][0]["batch"]
    batch["shard"] = 1 - batch["shard"]
    err = refused(doc)
    assert err.path == "$.waiting[0].batch.records[0].user"
    assert "belongs to shard" in err.why


def test_a_shard_buffer_under_global_scope_is_refused() -> None:
    doc = doc_of(lively("global"))
    doc["buffers"][0]["shard"] = 0
    err = refused(doc)
    assert err.path == "$.buffers[0].shard" and "batch_scope is global" in err.why


def test_a_user_listed_under_the_wrong_shard_is_refused() -> None:
    doc = doc_of(lively())
    user = doc["users"][0]
    user["shard"] = 1 - user["shard"]
    err = refused(doc)
    assert err.path == "$.users[0].shard" and "(R2.3)" in err.why


def test_a_batch_id_at_next_batch_id_is_refused() -> None:
    doc = doc_of(lively())
    doc["waiting"][0]["batch"]["batch_id"] = doc["next_batch_id"]
    err = refused(doc)
    assert err.path == "$.waiting[0].batch.batch_id"
    assert f"not below next_batch_id ({doc['next_batch_id']})" in err.why


def test_two_batches_with_one_id_are_refused() -> None:
    doc = doc_of(lively())
    doc["waiting"][0]["batch"]["batch_id"] = doc["in_flight"][0]["batch"]["batch_id"]
    err = refused(doc)
    assert err.path == "$.in_flight[0].batch.batch_id" and "listed twice" in err.why


def test_batches_out_of_id_order_are_refused() -> None:
    t = lively()
    t.collect_garbage(now=4)  # two more waiting batches
    doc = doc_of(t)
    assert len(doc["waiting"]) == 3
    doc["waiting"].reverse()
    err = refused(doc)
    assert err.path == "$.waiting[1].batch.batch_id" and "out of order" in err.why


def test_next_batch_id_must_be_above_sealed_count() -> None:
    doc = doc_of(lively())
    doc["next_batch_id"] = doc["sealed_count"]
    doc["in_flight"] = doc["waiting"] = []  # no batch id is then too high
    err = refused(doc)
    assert err.path == "$.next_batch_id" and "above sealed_count" in err.why


@pytest.mark.parametrize(("where", "path"), [
    (lambda d: d["users"][0]["entries"][0], "$.users[0].entries[0].last_seen"),
    (lambda d: d["buffers"][1]["records"][1], "$.buffers[1].records[1].time"),
    (lambda d: d["buffers"][0], "$.buffers[0].first_record_at"),
    (lambda d: d["in_flight"][0]["batch"], "$.in_flight[0].batch.sealed_at"),
])
def test_a_time_after_the_snapshots_clock_is_refused(where: Any, path: str) -> None:
    doc = doc_of(lively())
    part = where(doc)
    key = path.rsplit(".", 1)[1]
    part[key] = doc["now"] + 1
    err = refused(doc)
    assert err.path == path and "now" in err.why


def test_a_record_later_than_its_batch_is_refused() -> None:
    doc = doc_of(lively())
    batch = doc["waiting"][0]["batch"]
    batch["records"][0]["time"] = batch["sealed_at"] + 1
    err = refused(doc)
    assert err.path == "$.waiting[0].batch.records[0].time" and "sealed_at" in err.why


def test_a_batch_in_flight_was_attempted() -> None:
    doc = doc_of(lively())
    doc["in_flight"][0]["attempts"] = 0
    err = refused(doc)
    assert err.path == "$.in_flight[0].attempts" and "at least 1" in err.why


def test_repeated_users_and_entry_keys_are_refused() -> None:
    doc = doc_of(lively())
    again = copy.deepcopy(doc)
    again["users"].append(again["users"][0])
    err = refused(again)
    assert err.path == f"$.users[{len(doc['users'])}].user" and "listed twice" in err.why
    again = copy.deepcopy(doc)
    entries = again["users"][0]["entries"]
    entries.append(dict(entries[0]))
    err = refused(again)
    assert err.path == f"$.users[0].entries[{len(entries) - 1}].key"
    assert "listed twice" in err.why


def test_a_closed_tracker_holds_no_batches() -> None:
    t = lively()
    doc = doc_of(t)
    t.stop(now=4)
    for b in t.in_flight_batches():
        t.batch_succeeded(b.batch_id, now=4)
    t.close(now=5)
    closed = doc_of(t)
    assert doc_of(restore(closed)) == closed
    closed["waiting"] = doc["waiting"]
    err = refused(closed)
    assert err.path == "$.waiting" and "closed" in err.why


COUNTED = ("record.transfer", "record.event", "record.purge", "records_delivered")
"""The counters restore checks against the records a snapshot holds."""


def _held(doc: dict[str, Any]) -> int:
    return sum(len(records) for records in _records(doc))


@pytest.mark.parametrize(("key", "delta"), [("record.transfer", 1), ("record.transfer", -1),
                                            ("records_delivered", 2)])
def test_counts_that_disagree_with_the_records_held_are_refused(key: str, delta: int) -> None:
    doc = doc_of(lively())
    held = _held(doc)
    counts = doc["counts"]
    counts[key] = counts.get(key, 0) + delta
    emitted = sum(counts.get(k, 0) for k in COUNTED[:3])
    err = refused(doc)
    assert err.path == "$.counts"
    assert f"= {emitted - counts.get('records_delivered', 0)} records" in err.why
    assert f"hold {held}" in err.why


def test_a_record_missing_from_a_buffer_is_refused_by_the_counts() -> None:
    doc = doc_of(lively())
    del doc["buffers"][0]["records"][0]
    err = refused(doc)
    assert err.path == "$.counts" and f"hold {_held(doc)}" in err.why


def test_a_closed_tracker_is_not_held_to_the_record_counts() -> None:
    """After close, the records not delivered were returned or dropped (R8.2); the
    counters do not tell which, so only the empty buffers and batches are checked."""
    t = lively()
    t.stop(now=4)
    for batch in t.in_flight_batches():
        t.batch_failed(batch.batch_id, now=4)
    t.close(now=4)
    doc = doc_of(t)
    assert sum(doc["counts"].get(k, 0) for k in COUNTED[:3]) > doc["counts"].get(
        "records_delivered", 0)
    assert doc_of(restore(doc)) == doc


# --- fuzz: random small traces, one random corruption ---------------------------------

OPS = st.lists(st.tuples(st.sampled_from(["announce"] * 5 + ["stop_event", "gc", "take",
                                                              "take", "ok", "fail"]),
                         st.integers(1, 3), st.integers(1, 2), st.integers(0, 40)),
               min_size=6, max_size=24)


def _run(preset: str, scope: str, ops: list[tuple[str, int, int, int]]) -> Tracker:
    t = make(preset, shard_count=SHARDS, batch_scope=scope, batch_size=3, max_batch_age="off")
    taken: list[int] = []
    for now, (op, user, torrent, amount) in enumerate(ops, start=1):
        if op == "announce":
            t.announce(req(user=user, torrent=torrent, up=amount * now, down=amount), now=now)
        elif op == "stop_event":
            t.announce(req(user=user, torrent=torrent, up=amount * now, event=Event.STOPPED),
                       now=now)
        elif op == "gc":
            t.collect_garbage(now=now)
        elif op == "take":
            batch = t.next_batch(now=now)
            if batch is not None:
                taken.append(batch.batch_id)
        elif taken:
            batch_id = taken.pop(0)
            if op == "ok":
                t.batch_succeeded(batch_id, now=now)
            else:
                t.batch_failed(batch_id, now=now)
    return t


def _int_leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of the integer leaves outside ``config``, ``counts`` and ``cap``
    (a ``cap`` is only kept under ``expiry_panic: abort``, module docstring)."""
    if isinstance(node, dict):
        return [p for k, v in node.items() if k not in ("config", "counts", "cap")
                for p in _int_leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _int_leaves(v, (*path, i))]
    return [path] if type(node) is int else []


def _records(doc: dict[str, Any]) -> list[list[Any]]:
    """Every record list of the document: buffers, then batches."""
    return ([b["records"] for b in doc["buffers"]]
            + [p["batch"]["records"] for name in ("waiting", "in_flight") for p in doc[name]])


@st.composite
def corrupted(draw: st.DrawFn) -> dict[str, Any]:
    preset = draw(st.sampled_from(["seed", "recommended"]))
    scope = draw(st.sampled_from(["shard", "global"]))
    doc = doc_of(_run(preset, scope, draw(OPS)))
    kind = draw(st.sampled_from(["int", "move", "user", "copy_batch", "drop_batch", "count"]))
    if kind == "int":
        leaves = _int_leaves(doc)
        path = draw(st.sampled_from(leaves))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = draw(st.integers(-1, doc["now"] + 3))
    elif kind in ("move", "user"):
        lists = [rs for rs in _records(doc) if rs]
        if lists:
            source = draw(st.sampled_from(lists))
            record = source[draw(st.integers(0, len(source) - 1))]
            if kind == "move":
                source.remove(record)
                draw(st.sampled_from(_records(doc))).append(record)
            else:
                record["user"] = uid(draw(st.integers(1, 6))).hex()
    elif kind == "count":
        key = draw(st.sampled_from(COUNTED))
        doc["counts"][key] = max(0, doc["counts"].get(key, 0) + draw(st.integers(-3, 3)))
    else:
        pending = [(name, i) for name in ("waiting", "in_flight") for i in range(len(doc[name]))]
        if pending:
            name, i = draw(st.sampled_from(pending))
            if kind == "drop_batch":
                del doc[name][i]
            else:
                doc[draw(st.sampled_from(["waiting", "in_flight"]))].append(doc[name][i])
    return doc


@given(corrupted())
def test_a_corrupted_snapshot_is_refused_or_restores_exactly(doc: dict[str, Any]) -> None:
    """R8.3: whatever one corruption does, restore refuses it with a SnapshotError or
    the restored tracker snapshots to the very document (the corruption was consistent)."""
    try:
        twin = restore(doc)
    except SnapshotError as err:
        assert err.path.startswith("$") and err.why
        return
    assert doc_of(twin) == doc
    _assert_consistent(twin, doc["now"])


def _assert_consistent(t: Tracker, now: int) -> None:
    """What every tracker that ran satisfies, read through the public API, after it
    seals and hands out everything: every batch id is fresh, each shard batch holds
    its shard's users only, and no record is later than its batch nor a batch than ``now``."""
    global_scope = t.config.policy.batch_scope == "global"
    old = t.waiting_batches() + t.in_flight_batches()
    t.stop(now=now)
    batches = t.in_flight_batches()
    ids = [b.batch_id for b in batches]
    assert len(set(ids)) == len(ids)
    fresh = set(ids) - {b.batch_id for b in old}
    assert all(new > b.batch_id for new in fresh for b in old)
    for batch in batches:
        assert batch.sealed_at <= now
        for record in batch.records:
            assert record.time <= batch.sealed_at
            if not global_scope:
                assert shard_of(record.user, SHARDS) == batch.shard


@given(st.sampled_from(["seed", "recommended"]), st.sampled_from(["shard", "global"]), OPS,
       st.sampled_from(COUNTED), st.integers(-3, 3).filter(bool))
def test_a_snapshot_whose_counts_disagree_with_its_records_is_refused(
        preset: str, scope: str, ops: list[tuple[str, int, int, int]], key: str,
        delta: int) -> None:
    """R8.3: unless closed, records emitted less records delivered are the records held."""
    doc = doc_of(_run(preset, scope, ops))
    assert doc["state"] == "open"
    value = doc["counts"].get(key, 0) + delta
    assume(value >= 0)
    doc["counts"][key] = value
    err = refused(doc)
    assert err.path == "$.counts" and f"hold {_held(doc)}" in err.why
