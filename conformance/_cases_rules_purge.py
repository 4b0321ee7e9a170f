"""Cases for garbage collection and purge, for both presets.

Each function takes a preset name and returns one case whose id is
``<preset>/<rule>/<slug>``; where the presets differ it states both
expectations by hand, so a wrong executor cannot write wrong vectors. The
order cases are published in is :data:`._cases_rules.RULE_CASES`.
"""

from __future__ import annotations

from ._cases_rules_base import SEED, new
from ._vectors import Case

# -- R7: purge -------------------------------------------------------------------


def r7_gc_boundary(preset: str) -> Case:
    c = new(preset, "R7", "gc-lifetime-boundary",
            "GC purges entries last seen strictly before now - peer_lifetime: at exactly "
            "the lifetime the entry stays, one second later it goes (with its user).",
            config={"peer_lifetime": 100, "gc_interval": 10}, rules=("R12",))
    c.announce(0, up=1, u=1)
    c.announce(50, up=1, u=2)
    at = c.gc(100)
    c.want((at.removed_entries, at.removed_users), (0, 0), "kept at the boundary")
    after = c.gc(101)
    c.want((after.removed_entries, after.removed_users), (1, 1), "purged after")
    c.want(c.state(101).users, 1, "one user left")
    c.want_outcome(c.announce(102, up=5, u=1), "baseline")
    return c.build()


def r7_1_purge_on_announce(preset: str) -> Case:
    c = new(preset, "R7.1", "purge-on-announce",
            "An announce after peer_lifetime: the seed also drops the user's other stale "
            "entries on the announce path (here the stale entry is the last in infohash "
            "order, so its loop does not panic); the recommended preset leaves that to GC.",
            config={"peer_lifetime": 100, "gc_interval": 1000})
    c.announce(0, t=2, up=0)
    c.announce(0, t=1, up=0)
    c.announce(90, t=1, up=5)
    c.announce(150, t=1, up=10)
    entries = len(c.state(150).entries)
    c.want(entries, 1 if preset == SEED else 2, "entries after the announce")
    return c.build()


def r7_2_stale_on_announce(preset: str) -> Case:
    c = new(preset, "R7.2", "stale-entry-announces",
            "An entry older than peer_lifetime announces before GC purged it: the seed "
            "revives it and credits the whole gap; the recommended preset expires it and "
            "starts a new baseline (purge record included).",
            config={"peer_lifetime": 100, "gc_interval": 1000, "batch_size": 10})
    c.announce(0, up=100)
    obs = c.announce(101, up=900)
    if preset == SEED:
        c.want_record(obs, 800)
    else:
        c.want_outcome(obs, "expired")
        c.want_record(obs, None)
    c.want_record(c.announce(150, up=950), 50)
    c.stop(150)
    return c.build()


def r7_3_seed_panic(preset: str) -> Case:
    c = new(preset, "R7.3", "seed-expiry-panic",
            "A user keeps one torrent active and lets a lower-keyed one go stale: the seed's "
            "expiry loop indexes past the shrunk slice and panics in GC. Seed "
            "(expiry_panic abort): GC shifted a copy of the slice and never wrote it back, "
            "so nothing was removed; the process is dead and the case ends there. "
            "Recommended: the purge completes and seed_would_panic is reported; stale "
            "entries that are last in the list do not panic.",
            config={"peer_lifetime": 100, "gc_interval": 10}, defects=[1],
            needs=["seed_panic"], rules=("R7",))
    c.announce(0, t=1, up=0)
    c.announce(0, t=2, up=0)
    c.announce(80, t=2, up=5)
    gc = c.gc(150)
    c.want((gc.seed_would_panic, gc.removed_entries), (True, 0 if preset == SEED else 1),
           "panic flagged; purged unless the seed aborted")
    if preset == SEED:
        return c.build()
    c.announce(160, u=2, t=2, up=0)
    c.announce(240, u=2, t=1, up=0)
    later = c.gc(300)
    c.want((later.seed_would_panic, later.removed_entries), (False, 2),
           "stale entries that are the last of the list do not panic")
    c.state(300)
    return c.build()


def r7_4_purge_records(preset: str) -> Case:
    c = new(preset, "R7.4", "purge-records",
            "A purged entry emits a purge record under the recommended preset (the database "
            "can close the session); the seed purges silently.",
            config={"peer_lifetime": 100, "gc_interval": 10})
    c.announce(0, up=0, p=3)
    c.gc(101)
    delivered = c.deliver(101)
    if preset == SEED:
        c.want(delivered.deliveries, (), "nothing")
    else:
        recs = [r for d in delivered.deliveries for r in d.batch.records]
        c.want([(r.kind.value, r.peer_id, r.left) for r in recs], [("purge", r.peer_id, None)
               for r in recs], "purge record without left")
        c.want(len(recs), 1, "one purge record")
    return c.build()
