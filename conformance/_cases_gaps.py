"""Hand-written cases for what a conformance kit must see (and once could not).

Each case targets one way an implementation can be wrong that the older
cases could not show: batch outcomes reported later than the step that
took the batch (so a failed batch meets newer records), retries that
collide, a stop during backoff, the backoff cap, the per-entry ``completed``
flag, the driver's ``next_deadline``, the allow-list, configuration given
as Go durations, and every credential form of SPEC.md R1.1.
"""

from __future__ import annotations

from collections.abc import Callable

from privtrak.reference.ids import CREDENTIAL_FORMS, user

from ._cases import CaseBuilder
from ._vectors import Case

_REGISTRY: list[Callable[[], Case]] = []


def gap_case(fn: Callable[[], Case]) -> Callable[[], Case]:
    """Register a case function (file order is definition order)."""
    _REGISTRY.append(fn)
    return fn


def gap_cases() -> list[Case]:
    """Every case of this module."""
    return [fn() for fn in _REGISTRY]


def _rec(rule: str, slug: str, description: str, **config: object) -> CaseBuilder:
    return CaseBuilder(f"recommended/{rule}/{slug}", preset="recommended", rules=(rule,),
                       description=description,
                       config={"shard_count": 1, "max_batch_age": "off", **config})


@gap_case
def deferred_failure_meets_newer_records() -> Case:
    c = _rec("R6.5", "deferred-failure-meets-newer-batches",
             "A batch is taken, more announces seal a second batch while the first is in "
             "flight, then the first fails: it waits out its backoff whole and keeps its id; "
             "the second, due at once, goes first; the first follows when its backoff ends.",
             batch_size=1, retry_backoff_initial=4, retry_backoff_max=30)
    c.announce(0)
    c.announce(1, up=10)
    first = c.take(1)
    c.want(first.batch is not None and first.batch.batch_id, 1, "batch 1 in flight")
    c.announce(2, up=30)
    c.report(3, "fail")
    st = c.state(3)
    c.want(st.next_deadline, 2, "batch 2 is due since it was sealed at 2")
    early = c.deliver(3)
    c.want([d.batch.batch_id for d in early.deliveries], [2], "batch 2 first")
    c.want(c.state(4).next_deadline, 7, "batch 1 waits until 3 + 4")
    late = c.deliver(7)
    c.want([(d.batch.batch_id, d.batch.records[0].up) for d in late.deliveries], [(1, 10)],
           "batch 1, identical")
    return c.build()


@gap_case
def deferred_failure_merges_into_a_full_buffer() -> Case:
    c = CaseBuilder("recommended/R6.5/deferred-failure-merges-ahead-of-newer-records",
                    preset="recommended", rules=("R6.5", "R6.1"),
                    description="failed_batch merge with a background flusher: a batch taken "
                                "and failed after newer records were buffered goes back to "
                                "the front of the buffer, ahead of them, and the next seal "
                                "takes both under a new id.",
                    config={"shard_count": 1, "max_batch_age": "off", "batch_size": 2,
                            "failed_batch": "merge"})
    c.announce(0)
    c.announce(1, up=5)
    c.announce(1, t=2)
    c.announce(2, t=2, up=7)
    c.take(2)
    c.announce(3, up=9)
    c.report(3, "fail")
    c.announce(4, t=2, up=8)
    out = c.deliver(4)
    c.want([[r.up for r in d.batch.records] for d in out.deliveries], [[5, 7, 4, 1]],
           "the failed records first, then the newer ones")
    return c.build()


@gap_case
def outcomes_out_of_take_order() -> Case:
    c = _rec("R6.4", "outcomes-reported-out-of-order",
             "Two batches are taken and in flight at once; the newer one's outcome (fail) "
             "is reported first, then the older one's (ok). Each outcome applies to the "
             "batch it names: the newer batch is the one retried.",
             batch_size=1, retry_backoff_initial=1, retry_backoff_max=60)
    c.announce(0)
    c.announce(0, u=2)
    c.announce(1, up=3)
    c.announce(1, u=2, up=4)
    c.take(1)
    c.take(1)
    c.report(2, "fail", 1)
    c.report(2, "ok", 0)
    again = c.deliver(3)
    c.want([(d.batch.batch_id, d.batch.records[0].up) for d in again.deliveries], [(2, 4)],
           "the newer batch is retried")
    return c.build()


@gap_case
def retry_keeps_its_place() -> Case:
    c = _rec("R6.5", "late-failure-keeps-its-place-by-id",
             "Batch 1 is taken; batch 2 is sealed, delivered and fails; then batch 1's "
             "failure is reported. Both become due at the same second: batch 1 goes first, "
             "by id, although its failure was reported last.",
             batch_size=1, retry_backoff_initial=1, retry_backoff_max=60)
    c.announce(0, event="started")
    c.take(0)
    c.announce(0, u=2, event="started")
    c.handler("fail")
    c.deliver(0)
    c.report(0, "fail")
    both = c.deliver(1)
    c.want([d.batch.batch_id for d in both.deliveries], [1, 2], "by id")
    return c.build()


@gap_case
def retries_that_collide() -> Case:
    c = _rec("R6.5", "retries-due-together-go-in-id-order",
             "Two batches fail with different attempt counts (batch 1 twice, batch 2 once) "
             "and become due at the same second: they are handed out in id order, each "
             "identical to its first delivery.",
             batch_size=1, retry_backoff_initial=2, retry_backoff_max=60)
    c.announce(0)
    c.announce(0, u=2)
    c.announce(1, up=3)
    c.handler("fail")
    c.deliver(1)                  # batch 1 fails: due at 3
    c.announce(3, u=2, up=4)      # batch 2
    c.handler("fail", "fail")
    c.deliver(3)                  # batch 1 fails again (due 3 + 4 = 7), batch 2 fails (due 5)
    c.want(c.state(4).next_deadline, 5, "batch 2's backoff ends first")
    c.handler("fail")
    c.deliver(5)                  # batch 2 fails again: due 5 + 4 = 9
    c.deliver(7)
    c.want(c.state(8).next_deadline, 9, "batch 2")
    both = c.deliver(9)
    c.want([d.batch.batch_id for d in both.deliveries], [2], "batch 1 went at 7")
    return c.build()


@gap_case
def stop_while_backing_off() -> Case:
    c = _rec("R8", "stop-while-a-batch-backs-off",
             "A batch fails and backs off for 30 s; stop hands it out at once, ignoring the "
             "backoff, together with the sealed rest, in id order.",
             batch_size=1, retry_backoff_initial=30, retry_backoff_max=60)
    c.announce(0)
    c.announce(1, up=5)
    c.handler("fail")
    c.deliver(1)
    c.announce(2, up=6)
    out = c.stop(3)
    c.want([d.batch.batch_id for d in out.deliveries], [1, 2], "both, in id order")
    return c.build()


@gap_case
def backoff_reaches_its_cap() -> Case:
    c = _rec("R6.5", "backoff-reaches-the-cap",
             "A batch that keeps failing waits 1, 2, 4, then 5 s (retry_backoff_max), never "
             "longer; next_deadline shows each wait.",
             batch_size=1, retry_backoff_initial=1, retry_backoff_max=5)
    c.announce(0)
    c.announce(1, up=5)
    now = 1
    for wait in (1, 2, 4, 5, 5):
        c.handler("fail")
        c.deliver(now)
        c.want(c.state(now).next_deadline, now + wait, f"backoff {wait}")
        now += wait
    c.want(len(c.deliver(now).deliveries), 1, "delivered at last")
    return c.build()


@gap_case
def completed_flag_is_state() -> Case:
    c = _rec("R5.2", "completed-flag-survives-snapshot",
             "The completed flag is part of an entry's state: it shows in state and survives "
             "snapshot and restore, so a repeated completed is still not a second snatch.")
    c.announce(0, event="started", left=100)
    c.announce(5, up=10, event="completed", left=0)
    st = c.state(5)
    c.want([e.completed for e in st.entries], [True], "flag set")
    c.snapshot_restore(6)
    again = c.announce(7, up=20, event="completed", left=0)
    c.want(again.record is not None and again.record.event.value, "none", "no second snatch")
    return c.build()


@gap_case
def next_deadline_follows_the_age_trigger() -> Case:
    c = _rec("R6.2", "next-deadline-of-an-aging-buffer",
             "next_deadline is the earliest of the next GC and the age seal of the oldest "
             "buffered record; a driver that sleeps past it delivers late.",
             max_batch_age=10, gc_interval=60)
    c.want(c.state(0).next_deadline, 60, "only GC is due")
    c.announce(0)
    c.announce(3, up=5)
    c.want(c.state(3).next_deadline, 13, "the record ages at 3 + 10")
    c.want(len(c.deliver(12).deliveries), 0, "not yet")
    c.want(len(c.deliver(13).deliveries), 1, "on time")
    return c.build()


@gap_case
def allow_list_refuses_unknown_users() -> Case:
    c = CaseBuilder("recommended/R1.2/allow-list", preset="recommended", rules=("R1.2",),
                    description="With an allow-list of user 1, user 2's well-formed passkey is "
                                "refused unknown_user and changes nothing.",
                    config={"shard_count": 1}, allow_list=[1])
    c.announce(0)
    c.want_outcome(c.announce(1, u=2), "rejected", "unknown_user")
    c.want(c.state(1).users, 1, "only user 1")
    return c.build()


@gap_case
def go_durations_in_the_config() -> Case:
    c = CaseBuilder("seed/R10.1/config-as-go-durations", preset="seed", rules=("R10.1", "R7"),
                    description="gc_interval 90 s and peer_lifetime 150 s reach the adapter as "
                                "1m30s and 2m30s in config_yaml, and "
                                "prometheus_reporting_interval as 500ms: an implementation "
                                "that parses its own config file must read them exactly.",
                    config={"shard_count": 1, "gc_interval": 90, "peer_lifetime": 150,
                            "prometheus_reporting_interval": 0.5})
    c.announce(0)
    c.want(c.gc(150).removed_entries, 0, "exactly the lifetime: kept")
    c.want(c.gc(151).removed_entries, 1, "one second more: purged")
    return c.build()


_KEY = user(10).hex()
"""A passkey with hex letters (``aaaa...00``), so its upper-case form differs."""
_CREDENTIALS = tuple((form.name, form.build(_KEY), None if form.accepted else "bad_credential")
                     for form in CREDENTIAL_FORMS[1:])
"""Every form but the canonical path: (name, credential, expected reject)."""


@gap_case
def credential_forms() -> Case:
    c = CaseBuilder("seed/R1.1/credential-forms", preset="seed", rules=("R1.1", "R1"),
                    description="Every credential form of the R1.1 grammar, accepted or "
                                "refused bad_credential: " + ", ".join(
                                    n for n, _, _ in _CREDENTIALS) + ".",
                    config={"shard_count": 1})
    for now, (name, credential, reject) in enumerate(_CREDENTIALS):
        obs = c.announce(now, credential=credential, up=now)
        c.want(None if obs.reject is None else obs.reject.value, reject, name)
    return c.build()


@gap_case
def started_resets_under_torrent_keying() -> Case:
    c = CaseBuilder("recommended/R4.2/started-resets-under-torrent-keying",
                    preset="recommended", rules=("R4.2", "R2.1"),
                    description="A policy mix: started_on_known reset with the seed's "
                                "user_torrent keying. started on a known entry is a reset "
                                "whatever the keying; the policies are independent.",
                    config={"shard_count": 1, "baseline_key": "user_torrent"})
    c.announce(0, up=100)
    c.want_outcome(c.announce(5, up=300, event="started"), "reset")
    return c.build()
