"""The fuzzer's traces: configurations and steps drawn by Hypothesis.

What is drawn and why is described in :mod:`._fuzz`; this module holds the
strategies (:func:`traces`, :func:`configs`), the identities the traces use,
and :func:`seed_adapter_accepts`, which says whether an adapter of the seed
alone can run a configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from privtrak.reference import (
    AnnounceRequest,
    ByteCount,
    Config,
    Event,
    InfoHash,
    PeerId,
    UserId,
    ids,
    parse_config,
)
from privtrak.reference._policy import POLICY_FIELDS, PRESETS

from ._execute import BeyondModel, Execution
from ._steps import (
    AnnounceStep,
    DeliverStep,
    GcStep,
    HandlerOutcome,
    HandlerStep,
    ReportStep,
    SnapshotRestoreStep,
    StateStep,
    Step,
    StopStep,
    TakeStep,
)

USERS: tuple[str, ...] = tuple(ids.passkey(n) for n in (10, 11, 12))
"""Passkeys of the fuzzed users 10..12 of :mod:`privtrak.reference.ids`: hex
letters (``aaaa...00``), so the upper-case credential forms differ from the
canonical one, and shards 1, 0, 1 of two and 2, 1, 0 of three, so users
share a shard and have their own."""
BAD_CREDENTIAL = ids.BAD_CREDENTIALS[0]
TORRENTS: tuple[InfoHash, ...] = (ids.torrent(1), ids.torrent(2))
PEERS: tuple[PeerId, ...] = (ids.peer(1), ids.peer(2))
BIG: tuple[int, ...] = (2**63 - 1, 2**63, 2**64 - 1)


@dataclass(frozen=True, slots=True)
class Trace:
    """One generated case: a configuration, a start time and the steps."""

    config: Config
    start: int
    steps: tuple[Step, ...]
    allow_list: frozenset[UserId] | None = None
    """R1.2: the users the identifier accepts (``None``: every well-formed passkey)."""


# -- generation -------------------------------------------------------------------


@st.composite
def configs(draw: st.DrawFn, presets: Sequence[str], mix: bool = False) -> Config:
    """A small configuration of one of ``presets``: few shards, tiny batches.

    Seed configurations keep the keys a seed-only adapter cannot set at the
    seed's values (no age trigger, no bound), so such an adapter accepts
    them. With ``mix`` (an adapter of both presets) one draw in four mixes
    the policy fields freely.
    """
    preset = draw(st.sampled_from(list(presets)))
    raw: dict[str, Any] = {
        "preset": preset,
        "batch_size": draw(st.sampled_from([1, 2, 3, 4, 8])),
        "shard_count": draw(st.sampled_from([1, 2, 3])),
        "peer_lifetime": draw(st.sampled_from([5, 10, 30])),
        # 1000: GC is rarely overdue, so next_deadline shows the batches' times.
        "gc_interval": draw(st.sampled_from([3, 7, 20, 1000])),
        # An initial backoff of 2 under a cap of 2 is capped at the second retry:
        # a backoff that ignores the cap shows after two failures (both first,
        # so shrinking moves to them).
        "retry_backoff_initial": draw(st.sampled_from([2, 1])),
        "retry_backoff_max": draw(st.sampled_from([2, 4, 30])),
    }
    if preset == "seed":
        raw["max_batch_age"] = "off"
        raw["max_pending"] = "off"
    else:
        raw["max_batch_age"] = draw(st.sampled_from([5, 2, 5, "off"]))
        # A bound at or just above batch_size is reached by the records of one
        # batch: back-pressure and its off-by-ones show within a few announces.
        raw["max_pending"] = draw(st.sampled_from(["off", "off", "off", 50, 3,
                                                   raw["batch_size"], raw["batch_size"] + 1]))
    if mix and draw(st.integers(0, 3)) == 3:
        for name in POLICY_FIELDS:
            value = getattr(PRESETS[preset], name)
            choices = [False, True] if isinstance(value, bool) else [v.value for v in
                                                                     type(value)]
            raw[name] = draw(st.sampled_from(choices))
    return parse_config(raw)


def seed_adapter_accepts(config: Config) -> bool:
    """Whether an adapter of the seed alone can run ``config`` (PROTOCOL.md section
    4: the seed's policy values, no age trigger, no bound on pending records)."""
    return (config.policy == PRESETS["seed"] and config.max_batch_age is None
            and config.max_pending is None)


def _time_jumps(config: Config) -> list[int]:
    """Time advances that sit on the configuration's boundaries."""
    life, gc = config.peer_lifetime, config.gc_interval
    jumps = {0, 1, 2, life - 1, life, life + 1, gc, gc + 1, config.retry_backoff_initial,
             config.retry_backoff_max}
    if config.max_batch_age is not None:
        jumps |= {config.max_batch_age - 1, config.max_batch_age}
    # Small steps dominate, so entries live long enough to be announced again.
    return [0, 0, 0, 0, 1, 1, 1, 2, 2, *sorted(j for j in jumps if j >= 0)]


_KINDS = ("skip", *("announce",) * 12, *("deliver",) * 6, *("gc",) * 3, *("handler",) * 5,
          "state", "state", "state", "snapshot_restore", "stop", "stop", "take", "take",
          "report", "report", "storm", "storm", "defer", "defer")
"""Step kinds by weight. ``skip`` (no step) comes first: shrinking moves choices
toward the first element, so it removes steps from a fixed-length plan list."""
_CHANGES = ("grow",) * 7 + ("same", "reset", "reset", "big", "leap")
_LEAP = 2**62 + 12_345
"""A huge but valid jump: two in a row on one key cross 2**63, three wrap 2**64."""
_EVENTS = (Event.NONE,) * 4 + (Event.STARTED, Event.COMPLETED, Event.COMPLETED, Event.STOPPED)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One step's random choices, independent of the others so that Hypothesis
    can delete any step while shrinking; :func:`_realise` turns a list of
    plans into steps (running time and counters)."""

    kind: str
    jump: int
    user: int
    torrent: int
    peer: int
    change: str
    amount: int
    event: Event
    bad_credential: bool
    left: int
    outcomes: tuple[HandlerOutcome, ...]
    credential_form: int = 0
    """Index into :data:`CREDENTIAL_FORMS` (0: the canonical path form)."""


CREDENTIAL_FORMS: tuple[Callable[[str], str], ...] = (
    *(form.build for form in ids.CREDENTIAL_FORMS), lambda k: BAD_CREDENTIAL)
"""The credential forms of SPEC.md R1.1 (:data:`privtrak.reference.ids.CREDENTIAL_FORMS`:
the canonical path form first), then one that is no passkey at all."""
_FORMS = (0,) * 16 + tuple(range(1, len(CREDENTIAL_FORMS)))


@st.composite
def _plan(draw: st.DrawFn, kinds: Sequence[str], jumps: Sequence[int]) -> _Plan:
    """One plan; only the choices its kind uses are drawn (fewer draws make
    generation and shrinking faster)."""
    kind = draw(st.sampled_from(kinds))
    if kind == "skip":
        return _SKIP
    if kind == "handler":
        # Failures dominate: a batch that fails again and again reaches the
        # longer backoffs and their cap.
        outcomes = tuple(draw(st.lists(st.sampled_from(_HANDLER_DRAWS), min_size=1,
                                       max_size=3)))
        return _Plan(kind, 0, 0, 0, 0, "grow", 0, Event.NONE, False, 0, outcomes)
    jump = draw(st.sampled_from(jumps))
    if kind == "report":
        return _Plan(kind, jump, 0, 0, 0, "grow", draw(st.integers(0, 2)), Event.NONE, False,
                     0, (draw(st.sampled_from(_OUTCOMES)),))
    if kind == "storm":
        return _Plan(kind, jump, 0, 0, 0, "grow", draw(st.integers(1, 3)), Event.NONE, False,
                     0, ())
    if kind == "defer":
        return _Plan(kind, jump, draw(st.sampled_from((0, 0, 1, 2))),
                     draw(st.sampled_from((0, 0, 1))), draw(st.sampled_from((0, 0, 1))),
                     "grow", draw(st.integers(1, 3)), Event.NONE, False, 0,
                     (draw(st.sampled_from(_HANDLER_DRAWS)),))
    if kind != "announce":
        return _Plan(kind, jump, 0, 0, 0, "grow", 0, Event.NONE, False, 0, ())
    # Mostly the first user, torrent and peer: state is only interesting when
    # announces meet the same entries again. Shrinking moves each choice to
    # its first value: user 0, growth, no event, the canonical credential.
    return _Plan(kind, jump, draw(st.sampled_from((0, 0, 0, 0, 1, 1, 2))),
                 draw(st.sampled_from((0, 0, 0, 1))), draw(st.sampled_from((0, 0, 0, 1))),
                 draw(st.sampled_from(_CHANGES)), draw(st.integers(0, 3)),
                 draw(st.sampled_from(_EVENTS)), False,
                 draw(st.sampled_from((0, 100))), (), draw(st.sampled_from(_FORMS)))


_OUTCOMES = tuple(HandlerOutcome)
_HANDLER_DRAWS = (HandlerOutcome.FAIL, HandlerOutcome.OK, HandlerOutcome.FAIL,
                  HandlerOutcome.FAIL_AFTER_COMMIT)
_SKIP = _Plan("skip", 0, 0, 0, 0, "grow", 0, Event.NONE, False, 0, ())


@st.composite
def traces(draw: st.DrawFn, presets: Sequence[str], snapshots: bool = True,
           max_steps: int = 30, *, mix: bool = False, deferred: bool = True,
           allow_lists: bool = True) -> Trace:
    """A random trace; see the module docstring for its biases. ``take`` and
    ``report`` steps only with ``deferred``, policy mixes only with ``mix``."""
    config = draw(configs(presets, mix))
    start = draw(st.sampled_from([0, 1000]))
    kinds = [k for k in _KINDS if (snapshots or k != "snapshot_restore")
             and (deferred or k not in ("take", "report", "defer"))]
    # Mostly long traces (more chances to meet an entry again); shrinking
    # turns plans into skips, so the length itself need not shrink.
    length = draw(st.sampled_from((max(1, max_steps // 4), max(1, max_steps // 2), max_steps,
                                   max_steps, max_steps)))
    plans = draw(st.lists(_plan(kinds, _time_jumps(config)), min_size=length,
                          max_size=length))
    allow_list = None
    if allow_lists and draw(st.integers(0, 5)) == 5:
        allow_list = frozenset(UserId(bytes.fromhex(u)) for u in
                               USERS[:draw(st.integers(1, len(USERS) - 1))])
    steps = _feasible(config, start, _realise(plans, start, config), allow_list)
    return Trace(config, start, steps, allow_list)


def _storm(config: Config, now: int, failures: int) -> tuple[list[Step], int]:
    """A retry storm: ``failures`` scripted failures, then a flusher pass at ``now``
    and one more each time the failed batch's backoff ends (SPEC.md R6.5: the
    backoffs double up to ``retry_backoff_max``), so a batch that keeps failing
    reaches the cap within a few steps. Returns the steps and the last time."""
    steps: list[Step] = [HandlerStep((HandlerOutcome.FAIL,) * failures), DeliverStep(now)]
    for attempt in range(1, failures + 1):
        now += min(config.retry_backoff_initial * 2 ** (attempt - 1), config.retry_backoff_max)
        steps.append(DeliverStep(now))
    return steps, now


def _defer(plan: _Plan, now: int, counters: dict[tuple[int, int, int], tuple[int, int]]
           ) -> list[Step]:
    """A deferred delivery with traffic around its outcome: a batch taken,
    ``plan.amount`` announces of one key that buffer newer records meanwhile,
    the taken batch's outcome (mostly a failure, so the batch is retried or
    merged back while newer records wait: SPEC.md R6.4, R6.5), one more
    announce (a merged-back buffer may be full now and seals), and a flusher
    pass that hands out whatever is due then."""
    grow = replace(plan, kind="announce", change="grow", amount=1)
    before = [AnnounceStep(now, _request(grow, counters)) for _ in range(plan.amount)]
    return [TakeStep(now), *before, ReportStep(now, -1, plan.outcomes[0]),
            AnnounceStep(now, _request(grow, counters)), DeliverStep(now)]


def _feasible(config: Config, start: int, steps: Sequence[Step],
              allow_list: frozenset[UserId] | None = None) -> tuple[Step, ...]:
    """``steps`` with each ``report`` aimed at a batch that is outstanding (its
    index taken modulo their number, so -1 is the newest) and dropped when none is, found by running
    the reference; the rest is kept as it is."""
    execution = Execution(config, start, allow_list)
    out: list[Step] = []
    for planned in steps:
        step = planned
        if isinstance(planned, ReportStep):
            if not execution.taken:
                continue
            step = ReportStep(planned.now, planned.taken % len(execution.taken),
                              planned.outcome)
        try:
            execution.apply(step)
        except BeyondModel:
            return (*out, step)
        out.append(step)
    return tuple(out)


_GROW_UP = (0, 1, 7, 1000)
_GROW_DOWN = (0, 3, 500, 500)


def _realise(plans: Sequence[_Plan], start: int, config: Config) -> tuple[Step, ...]:
    """Steps from plans: time only moves forward, counters mostly grow, a stop
    happens only in the second half, after it only announces, state, handler,
    report and snapshot steps follow, and a state step ends the trace."""
    counters: dict[tuple[int, int, int], tuple[int, int]] = {}
    now = start
    stopped = False
    steps: list[Step] = []
    for index, plan in enumerate(plans):
        kind = plan.kind
        if kind == "skip":
            continue
        if kind == "stop" and 2 * index < len(plans):
            kind = "state"  # a stop early on would leave little but "closing" to observe
        if stopped and kind in ("deliver", "gc", "stop", "take", "storm", "defer"):
            kind = "announce"
        if kind == "handler":
            steps.append(HandlerStep(plan.outcomes))
            continue
        now += plan.jump
        if kind == "announce":
            steps.append(AnnounceStep(now, _request(plan, counters)))
        elif kind == "deliver":
            steps.append(DeliverStep(now))
        elif kind == "gc":
            steps.append(GcStep(now))
        elif kind == "state":
            steps.append(StateStep(now))
        elif kind == "snapshot_restore":
            steps.append(SnapshotRestoreStep(now))
        elif kind == "take":
            steps.append(TakeStep(now))
        elif kind == "storm":
            storm, now = _storm(config, now, plan.amount)
            steps.extend(storm)
        elif kind == "defer":
            steps.extend(_defer(plan, now, counters))
        elif kind == "report":
            steps.append(ReportStep(now, plan.amount, plan.outcomes[0]))
        else:
            stopped = True
            steps.append(StopStep(now))
    if steps and not isinstance(steps[-1], StateStep):
        # Every trace ends by observing the state it left (shrinking drops
        # this step again when the divergence does not need it).
        steps.append(StateStep(now))
    return tuple(steps)


def _request(plan: _Plan, counters: dict[tuple[int, int, int], tuple[int, int]]
             ) -> AnnounceRequest:
    key = (plan.user, plan.torrent, plan.peer)
    old_up, old_down = counters.get(key, (0, 0))
    if plan.change == "grow":
        new_up = min(old_up + _GROW_UP[plan.amount], BIG[-1])
        new_down = min(old_down + _GROW_DOWN[plan.amount], BIG[-1])
    elif plan.change == "same":
        new_up, new_down = old_up, old_down
    elif plan.change == "reset":
        new_up, new_down = plan.amount % 2, 0
    elif plan.change == "leap":
        new_up = (old_up + _LEAP) % (BIG[-1] + 1)
        new_down = old_down if plan.amount < 2 else (old_down + _LEAP) % (BIG[-1] + 1)
    else:
        new_up = BIG[plan.amount % len(BIG)]
        new_down = old_down if plan.amount == 3 else BIG[plan.amount % len(BIG)]
    counters[key] = (new_up, new_down)
    credential = CREDENTIAL_FORMS[plan.credential_form](USERS[plan.user])
    return AnnounceRequest(credential, TORRENTS[plan.torrent], PEERS[plan.peer],
                           ByteCount(new_up), ByteCount(new_down), ByteCount(plan.left),
                           plan.event, "10.0.0.1", 6881)
