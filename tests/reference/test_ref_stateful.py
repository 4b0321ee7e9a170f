"""Stateful tests: the optimised Tracker against the normative model, step by step.

Hypothesis drives :class:`privtrak.reference.Tracker` through its public API
in a small world (few users, torrents and peer ids, tiny batches and shards,
short lifetimes) and runs the normative model
:class:`privtrak.reference.model.Model` beside it. After
every step the two must agree on the step's result and on everything
observable (entries, buffers, waiting and in-flight batches, attempts,
deadlines, ledger, metrics), and the invariants of issue 2 section 6 must
hold on the Tracker's own outputs:

* conservation (R11): per direction, credited == delivered + dropped +
  returned + pending, pending == the TRANSFER records held; per baseline key,
  credited == delivered + pending (+ closed); every record created is
  delivered, pending or closed exactly once (multisets);
* attribution (R3.4): reported == prior + credited + attributed, per
  direction, int64-wrapped under ``counter_limit: wrap``;
* records (R5.2): no zero-byte TRANSFER, EVENT only with an event, PURGE
  carries no bytes;
* entries (R5.1, R7): ``stopped`` removes; after a GC nothing stale survives
  except deferred purges; no entry goes before it is stale, except by
  ``stopped``;
* batches (R6): ids increase in sealing order; an id offered again is the
  identical batch; an id succeeds at most once; pending <= max_pending;
* determinism: at teardown the recorded steps are replayed on a fresh
  Tracker (snapshot/restore included) and give identical results.

Snapshot/restore (R8.3) happens mid-run: the Tracker is replaced by one
restored from ``json.loads(json.dumps(snapshot))`` and the model, which is
not restored, must not notice; now and then the model is restored too, from
its own state document (``Model.save``/``Model.load``).

Machines: the ``seed`` preset, the ``recommended`` preset, and a mixed
machine that draws every policy field.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from hypothesis import event as event_note
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
)

from privtrak.reference import (
    PRESETS,
    AnnounceRequest,
    AnnounceResult,
    BaselineKey,
    Batch,
    BatchScope,
    CloseReport,
    Config,
    CounterLimit,
    DeltaRecord,
    Event,
    FailedBatch,
    FlushPath,
    InfoHash,
    Outcome,
    PasskeyIdentifier,
    PeerId,
    Policy,
    PrivtrakError,
    RecordKind,
    StopUndelivered,
    Tracker,
    TrackerState,
    UserId,
    parse_config,
    passkey_credential,
    restore,
    snapshot,
)
from privtrak.reference.model import Model

POLICY_FIELDS = [f.name for f in fields(Policy)]

# -- the small world ---------------------------------------------------------

# Chosen so that, with 2..4 shards, users land both in distinct and in
# shared shards (fnv1a_32 % n for n = 2, 3, 4: 0/1/2, 1/2/3, 0/0/0, 0/2/2).
from privtrak.reference import ids  # noqa: E402, I001 (privtrak.reference.ids: the small world)
USERS: list[UserId] = [ids.user(n) for n in (1, 2, 3, 9)]
UNKNOWN_USER = ids.user(4)
TORRENTS: list[InfoHash] = [ids.torrent(n) for n in range(3)]
PEERS: list[PeerId] = [ids.peer(n) for n in range(3)]
BAD_CREDENTIALS = [*ids.BAD_CREDENTIALS, passkey_credential(UNKNOWN_USER)]
U64 = 2**64 - 1
NEAR_LIMITS = [2**63 - 2, 2**63 - 1, 2**63, 2**63 + 1, U64 - 1, U64]


def identifier() -> PasskeyIdentifier:
    return PasskeyIdentifier(allowed=frozenset(USERS))


COUNTER_MOVES = st.sampled_from(
    ["add"] * 6 + ["add_1000", "add_1000", "sub", "sub", "zero", "zero", "limit"]
).flatmap(lambda kind: {
    "add": st.tuples(st.just("add"), st.integers(0, 3)),
    "add_1000": st.just(("add", 1000)),
    "sub": st.tuples(st.just("sub"), st.integers(1, 3)),
    "zero": st.just(("set", 0)),
    "limit": st.tuples(st.just("set"), st.sampled_from(NEAR_LIMITS)),
}[kind])
"""How a client's counter moves between two announces: mostly up, sometimes
down or back to zero (a restart), rarely to the edges of int64/uint64."""
FEW = st.sampled_from([0, 0, 1, 1, 2])
"""Reuse-biased index into USERS / TORRENTS / PEERS."""


def move(value: int, how: tuple[str, int]) -> int:
    kind, amount = how
    if kind == "add":
        value += amount
    elif kind == "sub":
        value -= amount
    else:
        value = amount
    return min(max(value, 0), U64)


def config_strategy(preset: str, mixed: bool) -> st.SearchStrategy[Config]:
    """Small configurations of ``preset``; ``mixed`` also draws every policy field."""
    optional_small = st.sampled_from(["off", 1, 2, 3, 5])

    @st.composite
    def build(draw: st.DrawFn) -> Config:
        raw: dict[str, Any] = {
            "preset": preset,
            "batch_size": draw(st.integers(1, 4)),
            "shard_count": draw(st.integers(1, 4)),
            "peer_lifetime": draw(st.integers(2, 8)),
            "gc_interval": draw(st.integers(1, 6)),
        }
        if preset != "seed" or mixed:
            raw["max_batch_age"] = draw(optional_small)
            raw["max_pending"] = draw(st.sampled_from(["off", 2, 3, 5, 8, 1000]))
        initial = draw(st.integers(1, 3))
        raw["retry_backoff_initial"] = initial
        raw["retry_backoff_max"] = draw(st.integers(initial, 8))
        if mixed:
            for name in POLICY_FIELDS:
                value = getattr(PRESETS[preset], name)
                if isinstance(value, bool):
                    raw[name] = draw(st.booleans())
                else:
                    raw[name] = draw(st.sampled_from([v.value for v in type(value)]))
        # Here both purge completely (the invariants below assume a live tracker).
        # What the seed's panic leaves behind (R7.3 abort) is checked against
        # hand-worked Go traces in test_ref_seed_defects.py and
        # test_ref_go_slices.py, and model against Tracker in test_model.py and
        # over the packaged vectors (tests/conformance/test_model_adapter.py).
        raw["expiry_panic"] = "complete"
        return parse_config(raw)

    return build()


# -- steps ----------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    """A call that raised a PrivtrakError."""

    kind: str
    message: str


def call(target: Any, op: str, args: tuple[Any, ...]) -> Any:
    try:
        return getattr(target, op)(*args)
    except PrivtrakError as exc:
        return Raised(type(exc).__name__, str(exc))


def comparable(value: Any) -> Any:
    """Drop what the model need not reproduce: the wording of messages."""
    if isinstance(value, AnnounceResult):
        assert (value.message != "") == (value.outcome is Outcome.REJECTED), value
        return value._replace(message="")
    if isinstance(value, Raised):
        assert value.message, value
        return value.kind
    return value


def record_key(r: DeltaRecord, by_peer: bool) -> tuple[bytes, bytes, bytes | None]:
    return (r.user, r.info_hash, r.peer_id if by_peer else None)


STEP_NAMES = ["0", "1", "L-1", "L", "L+1", "A-1", "A", "A+1", "G", "deadline", "large"]
"""Clock moves: 0, 1, around peer_lifetime (L) and max_batch_age (A), one
gc_interval (G), to the next deadline, and far."""
TIME_STEPS = st.sampled_from(["0"] * 12 + ["1"] * 4 + STEP_NAMES)
"""Clock moves before an announce: mostly none."""


class TrackerVersusModel(RuleBasedStateMachine):
    """The comparison machine; subclasses choose the configurations."""

    CONFIGS: st.SearchStrategy[Config] = config_strategy("recommended", mixed=False)

    def __init__(self) -> None:
        super().__init__()
        self.ready = False

    @initialize(data=st.data())
    def start(self, data: st.DataObject) -> None:
        self.config = data.draw(self.CONFIGS, label="config")
        self.tracker = Tracker(self.config, identifier(), now=0)
        self.model = Model(self.config, identifier(), now=0)
        self.by_peer = self.config.policy.baseline_key is BaselineKey.USER_TORRENT_PEER
        self.now = 0
        self.log: list[tuple[str, tuple[Any, ...], Any]] = []
        self.clients: dict[tuple[int, int, int], tuple[int, int]] = {}
        self.in_flight: list[int] = []
        self.offered: dict[int, Batch] = {}
        self.succeeded: set[int] = set()
        self.seen_sealed = 0
        self.known_ids: set[int] = set()
        self.created: Counter[DeltaRecord] = Counter()
        self.delivered: Counter[DeltaRecord] = Counter()
        self.closed: Counter[DeltaRecord] = Counter()
        self.purges_closed_or_delivered = 0
        self.credited_by_key: Counter[tuple[Any, ...]] = Counter()
        self.attributed_sum: dict[str, list[int]] = {}
        self.ready = True
        self.check_everything(removed_ok=set())

    # -- plumbing ---------------------------------------------------------

    def both(self, op: str, *args: Any) -> Any:
        """Run ``op`` on the Tracker and the model; they must agree."""
        t_out = call(self.tracker, op, args)
        m_out = call(self.model, op, args)
        self.log.append((op, args, t_out))
        assert comparable(t_out) == comparable(m_out), (
            f"step {op}{args}:\n tracker: {t_out}\n model:   {m_out}")
        return t_out

    def offer(self, batch: Batch) -> None:
        """Check a batch the tracker hands out and remember it as in flight."""
        assert batch.batch_id not in self.succeeded, f"batch {batch.batch_id} offered again"
        first = self.offered.setdefault(batch.batch_id, batch)
        assert first == batch, f"batch {batch.batch_id} changed between offers"
        assert batch.records, "an empty batch was offered"
        self.in_flight.append(batch.batch_id)

    def pending_records(self) -> list[DeltaRecord]:
        t = self.tracker
        held: list[DeltaRecord] = list(t.buffered_records())
        for batch in t.waiting_batches() + t.in_flight_batches():
            held.extend(batch.records)
        return held

    def resolve(self, batch_id: int, ok: bool) -> None:
        batch = self.offered[batch_id]
        self.in_flight.remove(batch_id)
        if ok:
            out = self.both("batch_succeeded", batch_id, self.now)
            assert out is None
            self.succeeded.add(batch_id)
            for r in batch.records:
                if r.kind is RecordKind.PURGE:
                    self.purges_closed_or_delivered += 1
                else:
                    self.delivered[r] += 1
        else:
            fail_announce = self.both("batch_failed", batch_id, self.now)
            assert isinstance(fail_announce, bool)
            event_note(f"batch failed, fails its announce: {fail_announce}")

    # -- rules ----------------------------------------------------------------

    @rule(u=st.sampled_from([0, 0, 1, 1, 2, 3]), t=FEW, p=FEW, up=COUNTER_MOVES, down=COUNTER_MOVES,
          event=st.sampled_from([Event.NONE, Event.NONE, Event.STARTED, Event.COMPLETED,
                                 Event.STOPPED]),
          left=st.sampled_from([0, 1, 1000]),
          flush_outcome=st.sampled_from(["ok", "ok", "fail", "leave"]), dt=TIME_STEPS)
    def announce(self, *, u: int, t: int, p: int, up: tuple[str, int], down: tuple[str, int],
                 event: Event, left: int, flush_outcome: str, dt: str) -> None:
        self.advance(step=dt)
        old_up, old_down = self.clients.get((u, t, p), (0, 0))
        new_up, new_down = move(old_up, up), move(old_down, down)
        request = AnnounceRequest(passkey_credential(USERS[u]), TORRENTS[t], PEERS[p],
                                  new_up, new_down, left, event)
        prior = self.tracker.entry(USERS[u], TORRENTS[t], PEERS[p])
        before = {(v.user, v.info_hash, v.peer_id): v for v in self.tracker.entries()}
        result: AnnounceResult = self.both("announce", request, self.now)
        event_note(f"outcome {result.outcome.value} {result.reject or ''}")
        if result.seed_would_panic:
            event_note("seed would panic")
        key = (USERS[u], TORRENTS[t], PEERS[p] if self.by_peer else None)
        if result.outcome is not Outcome.REJECTED:
            self.clients[(u, t, p)] = (new_up, new_down)
            self.check_announce(request, result, prior, key)
        if result.flush is not None:
            self.offer(result.flush)
            if flush_outcome != "leave":
                self.resolve(result.flush.batch_id, flush_outcome == "ok")
        removed_ok = {key} if (event is Event.STOPPED
                               and result.outcome is not Outcome.REJECTED) else set()
        self.check_everything(removed_ok, before)

    @rule(burst=st.lists(st.tuples(
        st.integers(0, 1), st.integers(0, 1), st.integers(0, 1), st.integers(0, 5000),
        st.integers(0, 50), st.sampled_from([Event.NONE, Event.NONE, Event.COMPLETED]),
        st.sampled_from(["0", "0", "0", "1"])), min_size=1, max_size=4))
    def announce_progress(self, burst: list[tuple[int, int, int, int, int, Event, str]]) -> None:
        """The common case: running clients report more bytes, a few at a time."""
        for u, t, p, up, down, event, dt in burst:
            self.announce(u=u, t=t, p=p, up=("add", up), down=("add", down), event=event,
                          left=0 if event is Event.COMPLETED else 1000, flush_outcome="ok",
                          dt=dt)

    def announce_bad_credential(self, credential: str) -> None:
        request = AnnounceRequest(credential, TORRENTS[0], PEERS[0], 5, 5, 0)
        result = self.both("announce", request, self.now)
        assert result.outcome is Outcome.REJECTED and result.reject is not None
        self.check_everything(set())

    @rule(step=st.sampled_from(STEP_NAMES))
    def advance(self, step: str) -> None:
        lifetime = self.config.peer_lifetime
        age = self.config.max_batch_age or 3
        deadline = self.tracker.next_deadline()
        by = {"0": 0, "1": 1, "L-1": lifetime - 1, "L": lifetime, "L+1": lifetime + 1,
              "A-1": age - 1, "A": age, "A+1": age + 1, "G": self.config.gc_interval,
              "deadline": 0 if deadline is None else max(deadline - self.now, 0),
              "large": 10_000}[step]
        self.now += by

    @precondition(lambda self: self.tracker.state is not TrackerState.CLOSED)
    @rule()
    def take_batch(self) -> None:
        batch = self.both("next_batch", self.now)
        if batch is not None:
            self.offer(batch)
        self.check_everything(set())

    @precondition(lambda self: bool(self.in_flight))
    @rule(i=st.integers(0, 5), ok=st.booleans())
    def report_outcome(self, i: int, ok: bool) -> None:
        self.resolve(self.in_flight[i % len(self.in_flight)], ok)
        self.check_everything(set())

    @precondition(lambda self: self.tracker.state is not TrackerState.CLOSED)
    @rule(fail_every=st.sampled_from([0, 0, 2, 3]))
    def drain(self, fail_every: int) -> None:
        """A driver loop: take and report until nothing is due."""
        for n in range(1, 30):
            batch = self.both("next_batch", self.now)
            if batch is None:
                break
            self.offer(batch)
            self.resolve(batch.batch_id, not (fail_every and n % fail_every == 0))
        self.check_everything(set())

    @precondition(lambda self: self.tracker.state is not TrackerState.CLOSED)
    @rule()
    def collect_garbage(self) -> None:
        before = {(v.user, v.info_hash, v.peer_id): v for v in self.tracker.entries()}
        result = self.both("collect_garbage", self.now)
        cutoff = self.now - self.config.peer_lifetime
        stale = [e for e in self.tracker.entries() if e.last_seen < cutoff]
        assert len(stale) == result.deferred, (stale, result)
        assert result.removed_entries == len(before) - len(self.tracker.entries())
        assert list(result.sealed) == sorted(result.sealed)
        if result.deferred:
            event_note("gc deferred purges")
        if result.removed_entries:
            event_note("gc removed entries")
        self.check_everything(set(), before)

    @rule(kind=st.sampled_from(["bad_credential", "stop", "close", "reoffer", "restore",
                                "restore", "restore_model", "misuse"]),
          credential=st.sampled_from(BAD_CREDENTIALS),
          misuse=st.sampled_from(["unknown_batch", "delivered_batch", "time_backwards",
                                  "close_early", "stop_twice"]))
    def rare(self, kind: str, credential: str, misuse: str) -> None:
        """Less frequent driver actions, folded into one rule to keep them rare."""
        if kind == "bad_credential":
            self.announce_bad_credential(credential)
        elif kind == "stop":
            # Late enough in a run that there is something to stop.
            if self.tracker.state is TrackerState.OPEN and len(self.log) >= 30:
                self.stop()
        elif kind == "close":
            if self.tracker.state is TrackerState.STOPPING and not self.in_flight:
                self.close()
        elif kind == "reoffer":
            self.reoffer_in_flight()
        elif kind == "restore":
            self.snapshot_and_restore()
        elif kind == "restore_model":
            self.snapshot_and_restore(model_too=True)
        else:
            self.misuse(misuse)

    def stop(self) -> None:
        handed = self.both("stop", self.now)
        assert self.tracker.waiting_batches() == []
        assert self.tracker.buffered_records() == ()
        for batch in handed:
            self.offer(batch)
        self.check_everything(set())

    def close(self) -> None:
        leftover = self.pending_records()
        report: CloseReport = self.both("close", self.now)
        returned = [r for b in report.returned for r in b.records]
        if self.config.policy.stop_undelivered is StopUndelivered.DROP:
            assert report.returned == () and report.dropped_records == len(leftover)
        else:
            assert report.dropped_records == 0
            assert Counter(returned) == Counter(leftover)
        for r in leftover:
            if r.kind is RecordKind.PURGE:
                self.purges_closed_or_delivered += 1
            else:
                self.closed[r] += 1
        assert self.pending_records() == []
        self.check_everything(set())

    def reoffer_in_flight(self) -> None:
        ids = self.both("reoffer_in_flight")
        assert ids == sorted(self.in_flight)
        self.in_flight = []
        self.check_everything(set())

    def snapshot_and_restore(self, model_too: bool = False) -> None:
        doc = json.loads(json.dumps(snapshot(self.tracker)))
        self.tracker = restore(doc, identifier())
        assert json.loads(json.dumps(snapshot(self.tracker))) == doc
        if model_too:
            state = json.loads(json.dumps(self.model.save()))
            self.model = Model.load(state, identifier())
            assert json.loads(json.dumps(self.model.save())) == state
        self.log.append(("<restore>", (), None))
        self.check_everything(set())

    def misuse(self, kind: str) -> None:
        """Out-of-order calls raise UsageError on both and change nothing."""
        before = snapshot(self.tracker)
        if kind == "unknown_batch":
            out = self.both("batch_failed", 10**6, self.now + 1)
        elif kind == "delivered_batch":
            done = min(self.succeeded, default=10**6)
            out = self.both("batch_succeeded", done, self.now + 1)
        elif kind == "time_backwards":
            if self.tracker.now == 0:
                return
            out = self.both("collect_garbage", self.tracker.now - 1)
        elif kind == "close_early":
            if self.tracker.state is TrackerState.STOPPING and not self.in_flight:
                return
            out = self.both("close", self.now + 1)
        else:
            if self.tracker.state is TrackerState.OPEN:
                return
            out = self.both("stop", self.now + 1)
        assert isinstance(out, Raised) and out.kind == "UsageError", out
        assert snapshot(self.tracker) == before, f"{kind} changed the state"
        self.check_everything(set())

    # -- checks ---------------------------------------------------------------

    def check_announce(self, request: AnnounceRequest, result: AnnounceResult,
                       prior: Any, key: tuple[Any, ...]) -> None:
        """R3.4, R5.1, R5.2 for one accepted announce."""
        reported = (request.uploaded, request.downloaded)
        credited = (result.credited_up, result.credited_down)
        attributed = (result.attributed_up, result.attributed_down)
        if result.outcome in (Outcome.CREDITED, Outcome.STOPPED):
            assert prior is not None
            base = (prior.uploaded, prior.downloaded)
        else:
            base = (0, 0)
        if result.outcome is Outcome.STOPPED_UNKNOWN:
            # R3.4: it starts no epoch and continues none; nothing is accounted.
            assert credited == attributed == (0, 0) and result.cause is None
        else:
            for d in range(2):
                total = base[d] + credited[d] + attributed[d]
                if self.config.policy.counter_limit is CounterLimit.WRAP:
                    assert total % 2**64 == reported[d], (result, prior)
                else:
                    assert total == reported[d], (result, prior)
        if result.cause is not None:
            acc = self.attributed_sum.setdefault(result.cause.value, [0, 0])
            acc[0] += attributed[0]
            acc[1] += attributed[1]
        if credited != (0, 0):
            assert result.record is not None and result.record.kind is RecordKind.TRANSFER
            assert (result.record.up, result.record.down) == credited
            self.credited_by_key[(*key, "up")] += credited[0]
            self.credited_by_key[(*key, "down")] += credited[1]
        if result.record is not None:
            self.created[result.record] += 1
        if request.event is Event.STOPPED and result.outcome in (Outcome.STOPPED, Outcome.RESET):
            assert self.tracker.entry(key[0], key[1], request.peer_id) is None

    def check_everything(self, removed_ok: set[tuple[Any, ...]],
                         before: dict[tuple[Any, ...], Any] | None = None) -> None:
        t, m = self.tracker, self.model
        # The model and the tracker agree on everything observable.
        assert t.state == m.state and t.now == m.now and t.next_gc_at == m.next_gc_at
        assert t.next_deadline() == m.next_deadline()
        assert t.entries() == m.entries()
        assert t.buffered_records() == m.buffered_records()
        for shard in range(self.config.shard_count):
            assert t.buffered_records(shard) == m.buffered_records(shard), shard
        assert t.waiting_batches() == m.waiting_batches()
        assert t.in_flight_batches() == m.in_flight_batches()
        for batch in t.waiting_batches() + t.in_flight_batches():
            assert t.attempts(batch.batch_id) == m.attempts(batch.batch_id)
        ledger, metrics = t.ledger(), t.metrics()
        assert ledger == m.ledger()
        assert metrics == m.metrics()

        held = self.pending_records()
        # R11: conservation per direction, and pending is what the records hold.
        assert ledger.pending_up == sum(r.up for r in held if r.kind is RecordKind.TRANSFER)
        assert ledger.pending_down == sum(r.down for r in held if r.kind is RecordKind.TRANSFER)
        for d in ("up", "down"):
            parts = sum(getattr(ledger, f"{p}_{d}") for p in
                        ("delivered", "dropped", "returned", "pending"))
            assert getattr(ledger, f"credited_{d}") == parts
        assert metrics.pending_records == len(held)
        if self.config.max_pending is not None:
            assert metrics.pending_records <= self.config.max_pending
        for cause, (a_up, a_down) in ledger.attributed.items():
            assert [a_up, a_down] == self.attributed_sum.get(cause.value, [0, 0])
        # Every record created is delivered, pending or closed exactly once.
        held_counts = Counter(r for r in held if r.kind is not RecordKind.PURGE)
        assert self.created == self.delivered + held_counts + self.closed
        purges_held = sum(1 for r in held if r.kind is RecordKind.PURGE)
        assert metrics.records["purge"] == purges_held + self.purges_closed_or_delivered
        # Per baseline key: credited == delivered + pending + closed.
        per_key: Counter[tuple[Any, ...]] = Counter()
        for source in (self.delivered, Counter(held), self.closed):
            for r, n in source.items():
                if r.kind is RecordKind.TRANSFER:
                    per_key[(*record_key(r, self.by_peer), "up")] += r.up * n
                    per_key[(*record_key(r, self.by_peer), "down")] += r.down * n
        keys = set(per_key) | set(self.credited_by_key)
        for k in keys:
            assert per_key[k] == self.credited_by_key[k], k
        # R5.2: record shapes.
        for r in held:
            if r.kind is RecordKind.TRANSFER:
                assert (r.up, r.down) != (0, 0)
            elif r.kind is RecordKind.EVENT:
                assert (r.up, r.down) == (0, 0) and r.event is not Event.NONE
            else:
                assert (r.up, r.down) == (0, 0) and r.event is Event.NONE
        # R6: batch ids grow in sealing order; known ids never change.
        sealed_now = metrics.batches_sealed
        for batch in t.waiting_batches() + t.in_flight_batches() + list(self.offered.values()):
            if batch.batch_id in self.offered:
                assert self.offered[batch.batch_id] == batch
            if batch.batch_id not in self.known_ids:
                # First seen now: sealed in this step, after every id seen so far.
                assert self.seen_sealed < batch.batch_id <= sealed_now
                assert batch.sealed_at == self.now
                self.known_ids.add(batch.batch_id)
        assert sealed_now >= self.seen_sealed
        self.seen_sealed = sealed_now
        for batch in t.waiting_batches():
            assert batch.batch_id not in self.succeeded
        # R6.8: a shard batch holds its shard's records only; a global batch says None.
        global_scope = self.config.policy.batch_scope is BatchScope.GLOBAL
        for batch in t.waiting_batches() + t.in_flight_batches():
            if global_scope:
                assert batch.shard is None
            else:
                assert batch.shard is not None
                assert {t.shard_of(r.user) for r in batch.records} == {batch.shard}
        if (self.config.policy.flush_path is FlushPath.BACKGROUND
                and self.config.policy.failed_batch is FailedBatch.RETAIN):
            for batch in t.waiting_batches() + t.in_flight_batches():
                assert len(batch.records) <= self.config.batch_size
        # R7: no entry goes before it is stale, except by ``stopped``.
        if before is not None:
            after = {(v.user, v.info_hash, v.peer_id) for v in t.entries()}
            cutoff = self.now - self.config.peer_lifetime
            for k, view in before.items():
                if k not in after and k not in removed_ok:
                    assert view.last_seen < cutoff, f"entry {k} removed while fresh"

    def teardown(self) -> None:
        if not self.ready:
            return
        # Determinism: the same steps on a fresh tracker give the same results.
        tracker = Tracker(self.config, identifier(), now=0)
        for op, args, expected in self.log:
            if op == "<restore>":
                tracker = restore(json.loads(json.dumps(snapshot(tracker))), identifier())
                continue
            got = call(tracker, op, args)
            assert got == expected, f"replay of {op}{args} differs: {got} != {expected}"
        assert snapshot(tracker) == snapshot(self.tracker)


STEPS = settings(stateful_step_count=50)


class SeedMachine(TrackerVersusModel):
    CONFIGS = config_strategy("seed", mixed=False)


class RecommendedMachine(TrackerVersusModel):
    CONFIGS = config_strategy("recommended", mixed=False)


class MixedMachine(TrackerVersusModel):
    CONFIGS = st.sampled_from(["seed", "recommended"]).flatmap(
        lambda preset: config_strategy(preset, mixed=True))


TestSeedPreset = SeedMachine.TestCase
TestSeedPreset.settings = STEPS
TestRecommendedPreset = RecommendedMachine.TestCase
TestRecommendedPreset.settings = STEPS
TestMixedPolicies = MixedMachine.TestCase
TestMixedPolicies.settings = STEPS
