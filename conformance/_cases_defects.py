"""Hand-written cases for the seed's defects (seed-behaviour.md section 2).

Each defect is played as the scenario a tracker operator meets, under both
presets: the seed preset shows the defect's observable effect (or, for the
crash, reports it), the recommended preset what a correct tracker does.
Ids are ``defect/<n>/<preset>/<slug>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._cases import CaseBuilder
from ._vectors import Case

DefectFn = Callable[[str], Case]
_REGISTRY: list[DefectFn] = []
PRESETS = ("seed", "recommended")
SEED = "seed"


def defect_case(fn: DefectFn) -> DefectFn:
    """Register a defect case function (run for both presets)."""
    _REGISTRY.append(fn)
    return fn


def defect_cases() -> list[Case]:
    """Every defect case, defect by defect, seed before recommended."""
    return [fn(preset) for fn in _REGISTRY for preset in PRESETS]


def new(preset: str, defect: int, slug: str, description: str, rules: tuple[str, ...], *,
        config: dict[str, Any] | None = None, needs: tuple[str, ...] | list[str] = ()
        ) -> CaseBuilder:
    """A builder with the id ``defect/<n>/<preset>/<slug>`` (one shard unless overridden)."""
    return CaseBuilder(f"defect/{defect}/{preset}/{slug}", preset=preset, rules=rules,
                       defects=[defect], description=description,
                       config={"shard_count": 1, **(config or {})}, needs=needs)


@defect_case
def d1_crash(preset: str) -> Case:
    c = new(preset, 1, "active-and-stale-torrent",
            "A user seeds torrent 2 while torrent 1 goes stale. The seed's GC expiry loop "
            "removes from the slice it ranges over and panics, killing the tracker before "
            "anything is written back (seed: removed_entries 0 and the case ends); the "
            "recommended preset purges exactly the stale entry and flags seed_would_panic.",
            ("R7", "R7.3"), config={"peer_lifetime": 1800, "gc_interval": 180},
            needs=["seed_panic"])
    c.announce(0, t=1, up=0, left=0)
    c.announce(0, t=2, up=0, left=0)
    for t in range(900, 2700, 900):
        c.announce(t, t=2, up=t * 1000, left=0)
    gc = c.gc(2700)
    if preset == "seed":
        c.want((gc.seed_would_panic, gc.removed_entries, gc.removed_users), (True, 0, 0),
               "flagged; the process died before any write-back")
        return c.build()
    c.want((gc.seed_would_panic, gc.removed_entries, gc.removed_users), (True, 1, 0),
           "flagged, one entry purged, user kept")
    c.want(len(c.state(2700).entries), 1, "the active entry survives")
    return c.build()


@defect_case
def d2_two_clients(preset: str) -> Case:
    c = new(preset, 2, "two-clients-interleave",
            "One user runs two clients on one torrent (home seedbox and laptop). Keyed "
            "without the peer id their counters interleave: the seed credits a garbage "
            "sequence of large positive and negative deltas.", ("R2.1", "R4.1"),
            config={"batch_size": 4})
    seedbox, laptop = 0, 0
    for t in range(0, 300, 60):
        seedbox += 10_000
        laptop += 10
        c.announce(t, p=1, up=seedbox)
        c.announce(t + 1, p=2, up=laptop)
    c.stop(400)
    st = c.state(400)
    expected = 40_000 + 40 if preset != SEED else None
    if expected is not None:
        c.want(st.ledger.credited_up, expected, "each client credited its own traffic")
    return c.build()


@defect_case
def d3_restart(preset: str) -> Case:
    c = new(preset, 3, "client-restart",
            "A client restarts: it re-announces started with counters from zero. The seed "
            "emits a negative delta and treats started like any announce; the recommended "
            "preset resets the baseline.", ("R4.1", "R4.2"), config={"batch_size": 10})
    c.announce(0, up=0, event="started")
    c.announce(1800, up=5_000_000)
    obs = c.announce(2000, up=0, event="started")
    if preset == SEED:
        c.want_record(obs, -5_000_000, event="started")
    else:
        c.want_outcome(obs, "reset")
    c.want_record(c.announce(3800, up=1_000_000), 1_000_000)
    c.stop(3800)
    return c.build()


@defect_case
def d4_ghost(preset: str) -> Case:
    c = new(preset, 4, "ghost-baseline",
            "A client sends stopped for a torrent the tracker never saw (after a tracker "
            "restart). The seed inserts a ghost baseline that lives a whole peer lifetime; "
            "the recommended preset keeps no state.", ("R5.3", "R7"),
            config={"gc_interval": 600})
    c.announce(100, up=123_456, event="stopped")
    c.want(len(c.state(100).entries), 1 if preset == SEED else 0, "entries")
    c.gc(1200)
    c.gc(1800)
    gc = c.gc(3600 + 1200)
    c.want(gc.removed_entries, 1 if preset == SEED else 0, "ghost purged only after lifetime")
    return c.build()


@defect_case
def d5_snatches(preset: str) -> Case:
    c = new(preset, 5, "invisible-snatch",
            "A download finishes between announces; the completed announce carries no new "
            "bytes. The seed's handler never hears of the snatch; the recommended preset "
            "reports it once, with left and peer id.", ("R5.2",))
    c.announce(0, down=0, left=1000, event="started")
    c.announce(60, down=1000, left=0)
    c.announce(61, down=1000, left=0, event="completed")
    c.announce(120, down=1000, left=0, event="completed")
    c.announce(180, down=1000, left=0, event="stopped")
    out = c.stop(200)
    events = [r.event.value for d in out.deliveries for r in d.batch.records
              if r.kind.value == "event"]
    c.want(events, [] if preset == SEED else ["started", "completed", "stopped"],
           "event records")
    return c.build()


@defect_case
def d6_size_only(preset: str) -> Case:
    c = new(preset, 6, "quiet-tracker-flush",
            "A quiet tracker with the default batch_size 1024: the seed holds a delta for "
            "hours (GC does not flush); the recommended preset delivers it within "
            "max_batch_age.", ("R6.1", "R6.2"))
    c.announce(0, up=0)
    c.announce(1800, up=700)
    c.gc(1980)
    late = c.deliver(1800 + 4 * 3600)
    c.want(len(late.deliveries), 0 if preset == SEED else 1, "delivered after 4 hours")
    c.state(1800 + 4 * 3600)
    return c.build()


@defect_case
def d7_failing_handler(preset: str) -> Case:
    c = new(preset, 7, "database-outage",
            "The database is down for a while. The seed fails every announce that finds "
            "its shard's buffer full, retrying an ever-growing batch each time; the "
            "recommended preset answers every announce, retries one immutable batch with "
            "backoff and delivers it when the database is back.", ("R6.5", "R6.6"),
            config={"batch_size": 2})
    for t in (1, 2, 3):
        c.announce(0, t=t, up=0)
    c.handler("fail", "fail", "fail", "fail")
    failed = 0
    for now in range(10, 60, 10):
        for t in (1, 2, 3):
            obs = c.announce(now, t=t, up=now * t)
            failed += obs.status.value == "rejected"
        c.deliver(now)
    c.want(failed > 0, preset == SEED, "announces failed")
    c.deliver(100)
    c.state(100)
    return c.build()


@defect_case
def d8_stop(preset: str) -> Case:
    c = new(preset, 8, "stop-during-outage",
            "The tracker is stopped while the database fails: the seed silently drops the "
            "failed deltas; the recommended preset hands them back for the operator.",
            ("R8", "R8.2"), config={"shard_count": 2}, needs=["ledger"])
    for n in (1, 2, 3):
        c.announce(0, u=n, up=0)
    for n in (1, 2, 3):
        c.announce(10, u=n, up=100 * n)
    c.handler("fail", "fail")
    out = c.stop(20)
    kept = sum(len(b.records) for b in out.returned)
    c.want((out.dropped_records, kept), (3, 0) if preset == SEED else (0, 3),
           "dropped / returned records")
    c.state(20)
    return c.build()


@defect_case
def d9_lost_ack(preset: str) -> Case:
    c = new(preset, 9, "lost-acknowledgement",
            "The handler commits a batch but the acknowledgement is lost. The seed resends "
            "the same deltas merged with new ones under no identity (double count); the "
            "recommended preset resends the identical batch with the same batch id, so the "
            "handler can deduplicate.", ("R6.5",), config={"batch_size": 2},
            needs=["batch_ids"])
    c.announce(0, t=1, up=0)
    c.announce(0, t=2, up=0)
    c.handler("fail_after_commit")
    first = c.announce(10, t=1, up=10).deliveries
    first += c.announce(10, t=2, up=20).deliveries + c.deliver(10).deliveries
    second = (c.announce(20, t=1, up=30).deliveries + c.announce(20, t=2, up=40).deliveries
              + c.deliver(30).deliveries)
    c.want([d.outcome.value for d in first], ["fail_after_commit"], "first delivery")
    committed = first[0].batch
    again = second[0].batch
    if preset == SEED:
        c.want((again.batch_id != committed.batch_id,
                again.records[:len(committed.records)] == committed.records), (True, True),
               "the committed records are sent again, merged, under a new id")
    else:
        c.want(again, committed, "the identical batch, same id")
    c.stop(40)
    return c.build()


@defect_case
def d10_int64(preset: str) -> Case:
    c = new(preset, 10, "eight-exbibyte-claim",
            "A forged announce reports uploaded = 2**64 - 2**62 after a baseline of zero: "
            "the seed's uint64 -> int64 cast credits a wrapped value; the recommended preset "
            "rejects the announce.", ("R9.1", "R9.2"), config={"batch_size": 1})
    c.announce(0, up=0)
    obs = c.announce(10, up=2**64 - 2**62)
    if preset == SEED:
        c.want_record(obs, -(2**62))
    else:
        c.want_outcome(obs, "rejected", "counter_out_of_range")
    c.deliver(10)
    c.state(10)
    return c.build()


@defect_case
def d11_lifetime(preset: str) -> Case:
    c = new(preset, 11, "late-announce",
            "A client announces every 1800 s and one announce comes a little late. With the "
            "seed's peer_lifetime of 1800 s GC has purged the baseline and the interval's "
            "traffic is lost; the recommended 3600 s keeps it.", ("R7", "R10"))
    c.announce(0, up=0)
    c.announce(1800, up=1_000_000)
    c.gc(3610)
    obs = c.announce(3620, up=2_000_000)
    if preset == SEED:
        c.want_outcome(obs, "baseline")
    else:
        c.want_record(obs, 1_000_000)
    return c.build()


@defect_case
def d12_restart(preset: str) -> Case:
    c = new(preset, 12, "tracker-restart",
            "The tracker restarts. The seed loses every baseline and pending delta; the "
            "reference snapshots its state and restores it, so the next announce is "
            "credited as if no restart happened.", ("R8.3",))
    c.announce(0, up=0, t=1)
    c.announce(60, up=500, t=1)
    c.snapshot_restore(100)
    c.want_record(c.announce(120, up=800, t=1), 300)
    c.state(120)
    c.stop(130)
    return c.build()


@defect_case
def d13_hybrid(preset: str) -> Case:
    c = new(preset, 13, "hybrid-torrent-double-credit",
            "A libtorrent 2.x client announces one hybrid v1/v2 transfer under both "
            "infohashes with the same counters. Accounting is keyed by infohash in both "
            "presets, so the transfer is credited twice; linking the two hashes is the "
            "tracker's torrent catalogue's job, and this case pins today's behaviour.",
            ("R2.1", "R3.2"))
    c.announce(0, t=1, up=0)
    c.announce(0, t=2, up=0)
    a = c.announce(60, t=1, up=1000)
    b = c.announce(60, t=2, up=1000)
    c.want_record(a, 1000)
    c.want_record(b, 1000)
    c.stop(70)
    return c.build()
