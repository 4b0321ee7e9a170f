"""The seed preset as the Go middleware behaves where it panics or stops.

Three places where the Go code (``privtrak.go``) does something a reading of
its intent would not predict, reproduced under the seed preset:

* A: ``HandleAnnounce`` runs the same broken expiry loop as GC. It panics
  after the announce's delta was appended to the shard buffer and before the
  batch-size check; the deferred unlock releases the shard; the user map
  keeps the old slice header over an array the loop shifted in place (R7.1,
  R7.3). Two traces: an insert that reallocated the slice (the old list
  survives untouched) and an update in place (the survivor shows twice).
* B: ``collectGarbage`` shifts a copy of the user's slice header and panics
  before writing it back: nothing is removed, the survivor is duplicated,
  and the unrecovered panic ends the process (R7.3). The case ends there.
* C: ``Stop`` replaces every shard with an empty one: no baseline survives
  (R8.3 ``stop_entries = forget``).
"""

from __future__ import annotations

from ._cases import CaseBuilder
from ._vectors import Case


def _new(slug: str, rule: str, description: str, **config: int) -> CaseBuilder:
    return CaseBuilder(f"seed/{rule}/go-{slug}", preset="seed", rules=(rule, "R7.3"),
                       defects=(1,) if rule != "R8.3" else (12,), description=description,
                       config={"shard_count": 1, **config}, needs=["seed_panic"])


def a_announce_panic_after_reallocation() -> Case:
    c = _new("announce-panic-reallocated", "R7.1",
             "peer_lifetime 5: announce torrent aa at t=0, torrent bb at t=6. Inserting bb "
             "into the full one-element slice reallocates it; the expiry loop then removes "
             "aa from the new array and panics ('index out of range [1] with length 1'). "
             "The map still holds the old header over the old array: the user keeps aa as "
             "it was, bb is not stored.", peer_lifetime=5)
    c.announce(0, t=0xA)
    obs = c.announce(6, t=0xB)
    c.want((obs.outcome.value, obs.seed_would_panic), ("baseline", True), "baseline, panic")
    st = c.state(6)
    c.want([(e.info_hash, e.last_seen) for e in st.entries], [(bytes([0xAA]) * 20, 0)],
           "the pre-announce list")
    return c.build()


def a_announce_panic_in_place() -> Case:
    c = _new("announce-panic-duplicates", "R7.1",
             "peer_lifetime 5, batch_size 2: torrents aa (t=0) and bb (t=2) fill a slice of "
             "capacity 2; bb announces 9 bytes more at t=6. The update is made in place, "
             "the delta is buffered, the loop removes aa by shifting bb left and panics: the "
             "map shows bb twice, and the buffer (2 records, at batch_size) is not flushed "
             "because the size check never ran; the next announce of the shard flushes it.",
             peer_lifetime=5, batch_size=2)
    c.announce(0, t=0xA)
    c.announce(1, t=0xB, u=2)
    c.announce(2, t=0xB, up=1)
    c.announce(3, t=0xB, u=2, up=4)
    obs = c.announce(6, t=0xB, up=10)
    c.want((obs.outcome.value, obs.seed_would_panic, obs.deliveries), ("credited", True, ()),
           "credited, panicked, nothing flushed")
    st = c.state(6)
    c.want([e.uploaded for e in st.entries if e.user == bytes([0x11]) * 15 + b"\x00"],
           [10, 10], "the survivor twice")
    c.want(st.pending_records, 2, "the delta is buffered")
    flushed = c.announce(7, t=0xB, u=2, up=5)
    c.want(len(flushed.deliveries), 1, "the next announce of the shard flushes")
    return c.build()


def b_gc_panic() -> Case:
    c = _new("gc-panic-removes-nothing", "R7",
             "peer_lifetime 5: announce aa at t=0 and bb at t=2, GC at t=6. GC runs the "
             "loop on a copy of the slice header, shifts bb over aa and panics before "
             "writing the copy back: removed_entries 0 (the survivor now shows twice), and "
             "the unrecovered panic in the GC goroutine ends the process, so nothing "
             "follows.", peer_lifetime=5)
    c.announce(0, t=0xA)
    c.announce(2, t=0xB)
    gc = c.gc(6)
    c.want((gc.seed_would_panic, gc.removed_entries, gc.removed_users), (True, 0, 0),
           "nothing removed")
    return c.build()


def b_gc_panic_map_order() -> Case:
    c = _new("gc-panic-map-order", "R7",
             "Two users in one shard, both with stale entries, one of which panics: what "
             "GC removed before the panic depends on Go's random map order, so "
             "removed_entries and removed_users are null (not compared); seed_would_panic "
             "is.", peer_lifetime=5)
    c.announce(0, t=0xA)
    c.announce(0, t=0xA, u=2)
    c.announce(2, t=0xB)
    gc = c.gc(6)
    c.want((gc.seed_would_panic, gc.removed_entries), (True, None), "order dependent")
    return c.build()


def c_stop_forgets() -> Case:
    c = _new("stop-forgets-baselines", "R8.3",
             "Announce at t=0, stop, state: Go's Stop replaces every shard with an empty "
             "one, so no user and no entry is left (and a restart would lose them anyway, "
             "defect 12).")
    c.announce(0, up=100)
    c.stop(1)
    st = c.state(1)
    c.want((st.users, st.entries), (0, ()), "everything forgotten")
    return c.build()


def go_seed_cases() -> list[Case]:
    """Every case of this module, in file order."""
    return [a_announce_panic_after_reallocation(), a_announce_panic_in_place(), b_gc_panic(),
            b_gc_panic_map_order(), c_stop_forgets()]
