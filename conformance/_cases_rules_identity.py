"""Cases for time, identification, baselines and shards, for both presets.

Each function takes a preset name and returns one case whose id is
``<preset>/<rule>/<slug>``; where the presets differ it states both
expectations by hand, so a wrong executor cannot write wrong vectors. The
order cases are published in is :data:`._cases_rules.RULE_CASES`.
"""

from __future__ import annotations

from privtrak.reference import shard_of
from privtrak.reference.ids import user

from ._cases_rules_base import SEED, new
from ._vectors import Case

# -- R0: time --------------------------------------------------------------------


def r0_same_second(preset: str) -> Case:
    c = new(preset, "R0", "same-second-and-late-start",
            "Time is whole seconds on the driver's clock, may start anywhere and may stay "
            "equal: three announces in the same second are all accounted.",
            start=1_700_000_000, rules=("R3", "R3.2"))
    t = 1_700_000_000
    c.want_outcome(c.announce(t, up=10, down=5, left=100), "baseline")
    c.want_record(c.announce(t, up=30, down=5, left=100), 20, 0)
    c.want_record(c.announce(t, up=30, down=9, left=100), 0, 4)
    c.state(t)
    return c.build()


# -- R1: identification ----------------------------------------------------------


def r1_bad_credential(preset: str) -> Case:
    c = new(preset, "R1", "bad-credential",
            "A credential without a 32-hex passkey is rejected with bad_credential and "
            "changes nothing.", rules=("R1.1",))
    c.want_outcome(c.announce(0, up=5, credential="/abc/announce"), "rejected",
                   "bad_credential")
    spaced = user(1).hex()[:30] + " 1"
    c.want_outcome(c.announce(0, credential=f"/{spaced}/announce"), "rejected",
                   "bad_credential")
    c.want_outcome(c.announce(1, up=5, credential="/announce"), "rejected", "bad_credential")
    c.want_outcome(c.announce(2, credential="/" + "zz" * 16 + "/announce"), "rejected",
                   "bad_credential")
    c.want(c.state(3).users, 0, "no user created")
    return c.build()


def r1_query_passkey(preset: str) -> Case:
    hexkey = user(10).hex()
    c = new(preset, "R1", "query-and-path-forms",
            "The passkey may be in the path (/<passkey>/announce) or the query "
            "(?passkey=), in either case of hex: all name the same user; two different "
            "passkeys are refused.", rules=("R1.1",))
    c.want_outcome(c.announce(0, up=100, credential=f"/{hexkey}/announce"), "baseline")
    c.want_record(c.announce(10, up=150, credential=f"/announce?passkey={hexkey}"), 50)
    c.want_record(c.announce(20, up=175, credential=f"/{hexkey.upper()}/announce"), 25)
    c.want_outcome(c.announce(30, credential=f"/{hexkey}/announce?passkey={user(11).hex()}"),
                   "rejected", "bad_credential")
    c.want(c.state(30).users, 1, "one user")
    return c.build()


def r1_2_no_allow_list(preset: str) -> Case:
    c = new(preset, "R1.2", "no-allow-list",
            "Vectors run the passkey identifier without an allow-list (R1.2 makes one "
            "optional): any well-formed passkey is a user and unknown_user never occurs. "
            "Allow-list refusals are not expressible in protocol v1 vectors.",
            rules=("R1",))
    for n in (13, 14, 15):
        c.want_outcome(c.announce(n, u=n, up=1), "baseline")
    c.want(c.state(15).users, 3, "three users")
    return c.build()


# -- R2: what a baseline belongs to ----------------------------------------------


def r2_two_peers(preset: str) -> Case:
    c = new(preset, "R2.1", "two-peers-one-torrent",
            "Two clients of one user on one torrent. Keyed by (user, torrent) the seed "
            "interleaves their counters into garbage deltas; keyed by peer too, each client "
            "has its own baseline.", defects=[2])
    c.announce(0, p=1, up=1000, left=50)
    second = c.announce(10, p=2, up=10, left=50)
    third = c.announce(20, p=1, up=1100, left=50)
    if preset == SEED:
        c.want_record(second, -990)
        c.want_record(third, 1090)
    else:
        c.want_outcome(second, "baseline")
        c.want_record(third, 100)
    c.state(20)
    return c.build()


def r2_3_shards(preset: str) -> Case:
    c = new(preset, "R2.3", "fnv1a-shards",
            "A user's records go to shard fnv1a_32(user id) mod shard_count; under "
            "batch_scope shard each batch holds one shard's records.",
            config={"shard_count": 4, "batch_size": 1, "batch_scope": "shard"},
            rules=("R6.8",))
    for n in range(1, 6):
        c.announce(n, u=n, up=0)
    for n in range(1, 6):
        obs = c.announce(10 + n, u=n, up=100 * n)
        deliveries = obs.deliveries if preset == SEED else c.deliver(10 + n).deliveries
        c.want([d.batch.shard for d in deliveries], [shard_of(user(n), 4)], f"user {n} shard")
    return c.build()


def r2_2_entries(preset: str) -> Case:
    c = new(preset, "R2.2", "entries-sorted",
            "The state lists entries sorted by (user, infohash, peer id), whatever the "
            "announce order; under user_torrent keying entries report peer_id null.",
            config={"shard_count": 3})
    for now, (u, t, p) in enumerate(((3, 2, 2), (1, 2, 1), (3, 1, 1), (1, 1, 2), (1, 1, 1))):
        c.announce(now, u=u, t=t, p=p, up=now)
    st = c.state(10)
    keys = [(e.user, e.info_hash, e.peer_id or b"") for e in st.entries]
    c.want(keys, sorted(keys), "sorted")
    c.want(len(keys), 4 if preset == SEED else 5, "entries")
    c.want({e.peer_id is None for e in st.entries}, {preset == SEED}, "peer ids")
    return c.build()
