"""Cases for crediting an announce, counter resets and events, for both presets.

Each function takes a preset name and returns one case whose id is
``<preset>/<rule>/<slug>``; where the presets differ it states both
expectations by hand, so a wrong executor cannot write wrong vectors. The
order cases are published in is :data:`._cases_rules.RULE_CASES`.
"""

from __future__ import annotations

from ._cases_rules_base import SEED, new
from ._vectors import Case

# -- R3: baselines and credit ----------------------------------------------------


def r3_first_announce(preset: str) -> Case:
    c = new(preset, "R3", "first-announce-is-baseline",
            "The first announce of an entry stores its counters as the baseline and credits "
            "nothing, however large they are.", rules=("R12",))
    c.want_outcome(c.announce(0, up=5_000_000_000, down=7_000_000, left=0), "baseline")
    c.want_record(c.announce(0, u=2, t=2, up=1, down=1), None)
    st = c.state(0)
    c.want((st.users, len(st.entries), st.pending_records), (2, 2, 0), "users/entries/pending")
    return c.build()


def r3_2_credit(preset: str) -> Case:
    c = new(preset, "R3.2", "credit-differences",
            "A known entry is credited the difference to its baseline, per direction; an "
            "announce without change credits nothing and emits no record.")
    c.announce(0, up=100, down=200, left=10)
    c.want_record(c.announce(60, up=160, down=230, left=5), 60, 30)
    c.want_record(c.announce(120, up=160, down=230, left=5), None)
    c.want_record(c.announce(180, up=161, down=230, left=5), 1, 0)
    c.state(180)
    return c.build()


def r3_4_epochs(preset: str) -> Case:
    c = new(preset, "R3.4", "new-epoch-after-stop",
            "After stopped removes an entry, the next announce starts a new baseline epoch: "
            "its counters are not credited, later differences are.", rules=("R5.1",))
    c.announce(0, up=100, event="started")
    c.want_record(c.announce(10, up=150, event="stopped"), 50, event="stopped")
    c.want_outcome(c.announce(20, up=400, event="started"), "baseline")
    c.want_record(c.announce(30, up=450), 50)
    return c.build()


def r3_1_order(preset: str) -> Case:
    c = new(preset, "R3.1", "order-of-decisions",
            "The first applicable refusal wins: a bad credential with huge counters is "
            "bad_credential; an unknown stopped with a counter above 2**63-1 is "
            "counter_out_of_range under reject; after stop everything is closing.",
            rules=("R1.1", "R9.2", "R8.1"))
    c.want_outcome(c.announce(0, up=2**63, credential="/x/announce"), "rejected",
                   "bad_credential")
    obs = c.announce(1, up=2**63, event="stopped")
    if preset == SEED:
        c.want_outcome(obs, "baseline")
    else:
        c.want_outcome(obs, "rejected", "counter_out_of_range")
    c.stop(2)
    c.want_outcome(c.announce(3, up=2**63, credential="/x/announce"), "rejected", "closing")
    c.state(3)
    return c.build()


def r3_3_records(preset: str) -> Case:
    c = new(preset, "R3.3", "transfer-record-fields",
            "A transfer record carries the announce's peer id, left, event and time; "
            "records keep their append order inside a batch.", config={"batch_size": 10})
    c.announce(0, t=1, p=3, up=0, left=9000)
    c.announce(0, t=2, p=4, up=0, left=50)
    c.announce(5, t=2, p=4, down=20, left=30)
    c.announce(6, t=1, p=3, up=7, left=8000)
    c.announce(7, t=2, p=4, down=50, left=0, event="completed")
    out = c.stop(8)
    recs = [r for d in out.deliveries for r in d.batch.records]
    c.want([(r.info_hash[0], r.peer_id[0] if r.peer_id else 0, r.left, r.event.value, r.time)
            for r in recs],
           [(0xA2, 0xC4, 30, "none", 5), (0xA1, 0xC3, 8000, "none", 6),
            (0xA2, 0xC4, 0, "completed", 7)], "records in append order")
    return c.build()


# -- R4: counters going down, started again --------------------------------------


def r4_1_decrease(preset: str) -> Case:
    c = new(preset, "R4.1", "counters-decrease",
            "A client restarted and reports lower counters. The seed emits a negative "
            "delta; the recommended preset resets the baseline and credits nothing.",
            defects=[3], rules=("R3.4",))
    c.announce(0, up=1000, down=500)
    obs = c.announce(60, up=100, down=50)
    if preset == SEED:
        c.want_outcome(obs, "credited")
        c.want_record(obs, -900, -450)
    else:
        c.want_outcome(obs, "reset")
        c.want_record(obs, None)
    c.want_record(c.announce(120, up=150, down=50), 50, 0)
    c.state(120)
    return c.build()


def r4_1_one_direction(preset: str) -> Case:
    c = new(preset, "R4.1", "one-counter-decreases",
            "Only downloaded went down while uploaded grew: the seed credits +up and a "
            "negative down; the recommended preset resets both (the upload gain is "
            "attributed to the reset).", defects=[3])
    c.announce(0, up=100, down=500)
    obs = c.announce(60, up=130, down=20)
    if preset == SEED:
        c.want_record(obs, 30, -480)
    else:
        c.want_outcome(obs, "reset")
        c.want_record(obs, None)
    c.state(60)
    return c.build()


def r4_2_started_known(preset: str) -> Case:
    c = new(preset, "R4.2", "started-on-known-entry",
            "started for an entry the tracker already has: the seed continues and credits "
            "the difference; the recommended preset starts a new baseline.", defects=[3])
    c.announce(0, up=100, event="started")
    c.announce(60, up=300)
    obs = c.announce(120, up=350, event="started")
    if preset == SEED:
        c.want_record(obs, 50, event="started")
    else:
        c.want_outcome(obs, "reset")
        c.want_record(obs, 0, 0, event="started", kind="event")
    c.want_record(c.announce(180, up=400), 50)
    return c.build()


def r4_2_started_lower(preset: str) -> Case:
    c = new(preset, "R4.2", "started-with-lower-counters",
            "started together with lower counters (the usual client restart): the seed "
            "credits a negative delta stamped started; the recommended preset resets.",
            rules=("R4.1",), defects=[3])
    c.announce(0, up=500, down=100)
    obs = c.announce(10, up=0, down=0, event="started")
    if preset == SEED:
        c.want_record(obs, -500, -100, event="started")
    else:
        c.want_outcome(obs, "reset")
    c.state(10)
    return c.build()


# -- R5: events ------------------------------------------------------------------


def r5_1_stopped(preset: str) -> Case:
    c = new(preset, "R5.1", "stopped-removes-entry",
            "stopped on a known entry credits the difference, then removes the entry.",
            rules=("R12",))
    c.announce(0, up=10, t=1)
    c.announce(0, up=10, t=2)
    obs = c.announce(30, up=70, down=5, t=1, event="stopped")
    c.want_outcome(obs, "stopped")
    c.want_record(obs, 60, 5, event="stopped")
    st = c.state(30)
    c.want(len(st.entries), 1, "one entry left")
    c.announce(40, up=10, t=2, event="stopped")
    c.want(c.state(40).users, 0, "user gone with its last entry")
    return c.build()


def r5_2_completed_zero(preset: str) -> Case:
    c = new(preset, "R5.2", "completed-without-bytes",
            "A completed (snatch) announce that moved no bytes: invisible to the seed's "
            "handler; the recommended preset emits an event record, once per entry.",
            defects=[5], config={"batch_size": 1})
    c.announce(0, up=0, down=1000, left=0)
    first = c.announce(10, up=0, down=1000, left=0, event="completed")
    again = c.announce(20, up=0, down=1000, left=0, event="completed")
    if preset == SEED:
        c.want_record(first, None)
    else:
        c.want_record(first, 0, 0, event="completed", kind="event")
        c.want_record(again, None)
        c.deliver(20)
    c.state(20)
    return c.build()


def r5_2_completed_bytes(preset: str) -> Case:
    c = new(preset, "R5.2", "completed-with-bytes",
            "completed with transferred bytes: a transfer record stamped completed, carrying "
            "left=0, under both presets.")
    c.announce(0, down=0, left=700)
    c.want_record(c.announce(50, down=700, left=0, event="completed"), 0, 700,
                  event="completed")
    return c.build()


def r5_2_started_first(preset: str) -> Case:
    c = new(preset, "R5.2", "started-first-announce",
            "The first announce carries started and no bytes: a baseline; the recommended "
            "preset also reports the start as an event record.")
    obs = c.announce(0, up=0, left=500, event="started")
    c.want_outcome(obs, "baseline")
    if preset == SEED:
        c.want_record(obs, None)
    else:
        c.want_record(obs, 0, 0, event="started", kind="event")
    return c.build()


def r5_3_stopped_unknown(preset: str) -> Case:
    c = new(preset, "R5.3", "stopped-unknown-entry",
            "stopped for an entry the tracker does not have: the seed inserts a ghost "
            "baseline; the recommended preset changes nothing.", defects=[4])
    obs = c.announce(0, up=500, event="stopped")
    st = c.state(0)
    if preset == SEED:
        c.want_outcome(obs, "baseline")
        c.want(len(st.entries), 1, "ghost baseline")
    else:
        c.want_outcome(obs, "stopped_unknown")
        c.want(len(st.entries), 0, "no entry")
    return c.build()


def r5_1_stopped_zero(preset: str) -> Case:
    c = new(preset, "R5.1", "stopped-without-bytes",
            "stopped with no new bytes removes the entry; only the recommended preset tells "
            "the handler (an event record).", rules=("R5.2",))
    c.announce(0, up=10, event="started")
    obs = c.announce(30, up=10, event="stopped")
    c.want_outcome(obs, "stopped")
    if preset == SEED:
        c.want_record(obs, None)
    else:
        c.want_record(obs, 0, 0, event="stopped", kind="event")
    c.want(c.state(30).entries, (), "entry removed")
    return c.build()
