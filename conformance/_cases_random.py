"""Seeded random traces for breadth: few users and torrents, boundary times,
handler failures, resets, huge counters, snapshots and stops.

Each trace comes from ``random.Random("privtrak-random/<preset>/<index>")``,
so the same index always gives the same case. The ``rules`` of a trace are
derived from what it exercised (an outcome, a reject code, a step kind).

Only one seed trace in eight snapshots (the seed cannot, so an adapter of the
real seed skips those), and one recommended trace in four takes batches and
reports their outcomes later (feature ``deferred``). A trace ends early where
the seed panics in a way the reference does not follow further (R7.3).
"""

from __future__ import annotations

import random
from typing import Any

from privtrak.reference import INT64_MAX, UINT64_MAX

from ._cases import CaseBuilder
from ._execute import BeyondModel
from ._steps import AnnounceObservation, GcObservation, HandlerOutcome, StopObservation
from ._vectors import Case

TRACES_PER_PRESET = 64

_EVENTS = ("none",) * 12 + ("started", "started", "completed", "stopped", "stopped")
_RULE_ORDER = ("R0", "R1", "R1.1", "R2.1", "R3", "R3.2", "R3.3", "R3.4", "R4.1", "R5.1",
               "R5.2", "R5.3", "R6.1", "R6.3", "R6.4", "R6.5", "R6.6", "R6.7", "R7", "R7.2", "R7.3",
               "R8", "R8.1", "R8.3", "R9.2", "R11", "R11.1")


def random_cases(preset: str, count: int = TRACES_PER_PRESET) -> list[Case]:
    """``count`` random traces for ``preset``, index 0 first."""
    return [random_case(preset, i) for i in range(count)]


def _config(rng: random.Random, preset: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "peer_lifetime": rng.choice((30, 60, 120)),
        "gc_interval": rng.choice((10, 30, 60)),
        "batch_size": rng.choice((1, 2, 3, 5)),
        "shard_count": rng.choice((1, 1, 2, 3)),
    }
    if preset == "recommended":
        config["max_batch_age"] = rng.choice((5, 10, "off"))
        config["max_pending"] = rng.choice(("off", "off", 4, 8))
        config["retry_backoff_initial"] = rng.choice((1, 2))
        config["retry_backoff_max"] = rng.choice((4, 8))
    return config


def _next_counter(rng: random.Random, value: int) -> int:
    roll = rng.random()
    if value > INT64_MAX and roll < 0.5:
        return 0  # a client that reported nonsense is usually restarted
    if roll < 0.06:
        return 0  # the client restarted
    if roll < 0.10:
        return max(0, value - rng.randint(1, 1000))
    if roll < 0.13:
        return rng.choice((INT64_MAX, INT64_MAX + 1, UINT64_MAX, 2**53 + 1))
    if roll < 0.35:
        return value
    return min(UINT64_MAX, value + rng.choice((1, 16_384, 1_048_576, rng.randint(1, 10**9))))


def random_case(preset: str, index: int) -> Case:
    """The random trace number ``index`` for ``preset``."""
    rng = random.Random(f"privtrak-random/{preset}/{index}")
    config = _config(rng, preset)
    users, torrents, peers = rng.randint(1, 3), rng.randint(1, 2), rng.randint(1, 2)
    start = rng.choice((0, 0, 1000, 1_700_000_000))
    n_steps = rng.randint(6, 28)
    lifetime, gc_interval = config["peer_lifetime"], config["gc_interval"]
    c = CaseBuilder(
        f"random/{preset}/{index:03d}", preset=preset, rules=(),
        description=(f"Seeded random trace {index}: {n_steps} steps, {users} user(s), "
                     f"{torrents} torrent(s), {peers} peer(s) each, peer_lifetime "
                     f"{lifetime} s, batch_size {config['batch_size']}."),
        config=config, start=start)
    rules: set[str] = {"R0"}
    params: dict[str, Any] = {
        "now": start, "n_steps": n_steps, "users": users, "torrents": torrents,
        "peers": peers, "gc_interval": gc_interval, "lifetime": lifetime, "rules": rules,
        "counters": {}, "snatched": set(),
        "snapshots": preset != "seed" or index % 8 == 7,
        "deferred": preset != "seed" and index % 4 == 3}
    try:
        stopped = _steps(c, rng, params)
        c.state(c.execution.now)
        if not stopped and rng.random() < 0.3:
            _note_stop(c.stop(c.execution.now + 1), rules)
            c.state(c.execution.now)
    except BeyondModel:
        rules.add("R7.3")
    c.rules = tuple(r for r in _RULE_ORDER if r in rules)
    return c.build()


def _steps(c: CaseBuilder, rng: random.Random, v: dict[str, Any]) -> bool:
    """Append the trace's steps; returns whether it stopped. ``v`` holds the
    trace's parameters (see :func:`random_case`)."""
    now, n_steps, users, torrents, peers = v["now"], v["n_steps"], v["users"], v["torrents"], \
        v["peers"]
    gc_interval, lifetime, rules = v["gc_interval"], v["lifetime"], v["rules"]
    counters, snatched = v["counters"], v["snatched"]
    stopped, steps_after_stop, outstanding = False, 0, 0
    for position in range(n_steps):
        if stopped:
            steps_after_stop += 1
            if steps_after_stop > 3:
                break
        now += rng.choices((0, 1, 2, 3, 5, 10, gc_interval, lifetime - 1, lifetime,
                            lifetime + 1), weights=(4, 4, 3, 2, 3, 3, 2, 1, 1, 1))[0]
        roll = rng.random()
        if roll >= 0.97 and position < n_steps * 3 // 4:
            roll = rng.random() * 0.97  # stop only near the end
        if roll < 0.08:
            c.handler(*rng.choices(("ok", "fail", "fail", "fail_after_commit"),
                                   k=rng.randint(1, 3)))
        elif roll < 0.62 or stopped:
            if stopped and roll >= 0.62 and rng.random() < 0.5:
                c.state(now)
                continue
            key = (rng.randint(1, users), rng.randint(1, torrents), rng.randint(1, peers))
            up, down, left = counters.get(key, (0, 0, rng.choice((0, 1000, 2**40))))
            up, down = _next_counter(rng, up), _next_counter(rng, down)
            event = rng.choice(_EVENTS)
            if key in snatched and rng.random() < 0.3:
                event = "completed"  # clients repeat completed; a snatch counts once
            if event == "completed":
                snatched.add(key)
            if event == "completed" or rng.random() < 0.1:
                left = 0
            counters[key] = (up, down, left)
            credential = "/not-a-passkey/announce" if rng.random() < 0.03 else None
            obs = c.announce(now, u=key[0], t=key[1], p=key[2], up=up, down=down, left=left,
                             event=event, credential=credential)
            _note_announce(obs, rules)
        elif roll < 0.74:
            if v["deferred"] and outstanding and rng.random() < 0.5:
                c.report(now, rng.choice(("ok", "fail", "fail_after_commit")),
                         rng.randrange(outstanding))
                outstanding -= 1
                rules.add("R6.4")
            elif v["deferred"] and rng.random() < 0.5:
                outstanding += c.take(now).batch is not None
            elif any(d.outcome is not HandlerOutcome.OK for d in c.deliver(now).deliveries):
                rules.add("R6.5")
        elif roll < 0.84:
            _note_gc(c.gc(now), rules)
        elif roll < 0.92:
            c.state(now)
            rules.update(("R11", "R11.1"))
        elif roll < 0.97:
            if v["snapshots"]:
                c.snapshot_restore(now)
                rules.add("R8.3")
            else:
                c.state(now)
        else:
            _note_stop(c.stop(now), rules)
            stopped = True
            outstanding = 0
    return stopped


def _note_announce(obs: AnnounceObservation, rules: set[str]) -> None:
    by_outcome = {"baseline": "R3", "credited": "R3.2", "reset": "R4.1", "stopped": "R5.1",
                  "stopped_unknown": "R5.3", "expired": "R7.2"}
    by_reject = {"bad_credential": "R1.1", "counter_out_of_range": "R9.2",
                 "pending_full": "R6.7", "closing": "R8.1", "handler_failed": "R6.6"}
    if obs.outcome.value in by_outcome:
        rules.add(by_outcome[obs.outcome.value])
    if obs.reject is not None:
        rules.add(by_reject[obs.reject.value])
    if obs.deliveries:
        rules.update(("R6.1", "R6.3"))
    rec = obs.record
    if obs.outcome.value in ("baseline", "reset", "expired"):
        rules.add("R3.4")
    if rec is not None and rec.kind.value == "transfer":
        rules.add("R3.3")
    if rec is not None and (rec.up < 0 or rec.down < 0):
        rules.add("R4.1")
    if rec is not None and rec.kind.value == "event":
        rules.add("R5.2")


def _note_gc(obs: GcObservation, rules: set[str]) -> None:
    if obs.removed_entries:
        rules.add("R7")
    if obs.seed_would_panic:
        rules.add("R7.3")


def _note_stop(obs: StopObservation, rules: set[str]) -> None:
    rules.add("R8")
