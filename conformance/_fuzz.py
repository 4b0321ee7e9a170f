"""``privtrak conform fuzz``: differential fuzzing against the reference.

Hypothesis generates random traces (a configuration plus a list of steps),
biased toward what breaks trackers: one to three users on one or two
torrents with one or two peers each, tiny batch sizes and shard counts, time
jumps that land exactly before, on and after ``peer_lifetime``,
``gc_interval``, ``max_batch_age`` and the retry backoff, scripted handler
failures and retry storms (a batch failing again at each backoff end up to
the cap), batches taken and reported later (also as a motif: a batch taken,
announces that buffer newer records meanwhile, its outcome (mostly a
failure) reported, one more announce and a flusher pass), bounds on pending
records at and just above the batch size, counter resets, counters at the
2**63 and 2**64 edges and leaps that wrap after a few announces, every
credential form of SPEC.md R1.1, allow-lists, and (for an adapter of both
presets) policy mixes. Seed configurations keep what a seed-only adapter
cannot set at the seed's values. Each trace runs step by step on the adapter
and on the reference executor at the same time; the first observation that
differs (or an adapter that crashes, hangs or breaks the protocol) is a
divergence; a trace stops being compared where the reference stops modelling
the seed (R7.3). Hypothesis then shrinks the trace, a last pass drops every
step the divergence does not need, and the result is printed and written as
a vector file in the packaged format, ready to commit.

The search is one Hypothesis run (so later traces grow deeper), bounded by
``--max-examples`` and ``--time`` and deterministic for a given ``--seed``
(and a deterministic adapter): the same seed tries the same traces in the
same order. The command line
(``privtrak conform fuzz``) is in :mod:`._fuzz_cli`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from privtrak.reference import (
    config_to_mapping,
    parse_config,
)

from ._client import AdapterInfo, StepFailed, Unsupported
from ._diff import Divergence, compare
from ._execute import BeyondModel, Execution
from ._fuzz_cli import DEFAULT_MAX_EXAMPLES
from ._fuzz_traces import (
    BAD_CREDENTIAL,
    PEERS,
    TORRENTS,
    USERS,
    Trace,
    _feasible,
    traces,
)
from ._process import AdapterError
from ._session import CannotRun, Session
from ._steps import AnnounceStep, HandlerStep, ReportStep, Step
from ._steps_json import encode_observation, encode_step
from ._vectors import Case, CaseStep, required_features


class _OutOfTime(BaseException):
    """Raised inside the Hypothesis test when the time budget is spent: a
    BaseException passes through Hypothesis at once, unshrunk and unreported."""


# -- lock-step execution -------------------------------------------------------------


class Diverged(Exception):
    """The adapter and the reference disagree on ``trace`` at ``step``."""

    def __init__(self, trace: Trace, step: int, message: str,
                 divergence: Divergence | None, stderr_tail: str = "") -> None:
        self.trace = trace
        self.step = step
        self.message = message
        self.divergence = divergence
        self.stderr_tail = stderr_tail
        super().__init__(f"step {step}: {message}")


def run_lockstep(session: Session, trace: Trace, case_id: str = "fuzz") -> None:
    """Run ``trace`` on the adapter and on the reference; raise :class:`Diverged`
    at the first difference. Raises :class:`Unsupported` if the adapter declines."""
    info = session.info
    assert info is not None
    client = session.ensure()
    execution = Execution(trace.config, trace.start, trace.allow_list)
    config = config_to_mapping(trace.config)
    step_index = -1
    try:
        client.reset(case_id, trace.config.preset, config, trace.start,
                     allow_list=None if trace.allow_list is None else tuple(
                         sorted(u.hex() for u in trace.allow_list)))
        for step_index, step in enumerate(trace.steps):
            try:
                expected = encode_observation(execution.apply(step))
            except BeyondModel:
                return  # the seed panicked before: nothing after it is compared
            observed = client.step(step_index, encode_step(step))
            divergence = compare(expected, observed, info.features, step.op)
            if divergence is not None:
                client.check_observation(step.op, observed)
                raise Diverged(trace, step_index, f"{step.op} observation differs at "
                               f"{', '.join(p or '<observation>' for p in divergence.paths)}",
                               divergence)
    except AdapterError as exc:
        if not isinstance(exc, StepFailed):
            session.discard()
        raise Diverged(trace, max(step_index, 0), exc.message, None, exc.stderr_tail) from None


@dataclass(frozen=True, slots=True)
class FuzzResult:
    """What a fuzzing run found."""

    examples: int
    """Traces run on the adapter (including those run while shrinking)."""
    caught_after: int | None
    """How many traces ran up to and including the first divergent one."""
    declined: int
    """Traces the adapter answered ``unsupported`` at reset (not compared)."""
    failure: Diverged | None
    """The shrunk, minimal divergence, or ``None``."""
    interrupted: bool = False
    """Ctrl-C ended the search early; ``failure`` is then the shortest divergence
    found so far, which shrinking may not have finished minimising."""


def fuzz(session: Session, *, presets: Sequence[str], max_examples: int = DEFAULT_MAX_EXAMPLES,
         time_limit: float | None = None, seed: int = 0, max_steps: int = 30,
         shrink: bool = True) -> FuzzResult:
    """Search for a divergence; shrink the first one found (unless ``shrink`` is
    false: then the first divergent trace is returned as found).

    A Ctrl-C (KeyboardInterrupt) ends the search and returns what was found,
    marked ``interrupted``; the adapter, which may be in the middle of a
    step, is killed (the session starts a new one if it is used again).
    """
    info = session.info
    assert info is not None
    usable = [p for p in presets if _preset_usable(p, info)]
    if not usable:
        raise CannotRun(f"the adapter supports none of the presets {list(presets)} with the "
                        "features they need")
    snapshots = "snapshot" in info.features
    stop_at = None if time_limit is None else time.monotonic() + time_limit
    counts = {"run": 0, "declined": 0}
    caught: list[int] = []
    shortest: list[Diverged] = []  # the shortest divergence seen, for an interrupted search

    def out_of_time() -> bool:
        return stop_at is not None and time.monotonic() > stop_at

    def check(trace: Trace) -> None:
        if not caught and out_of_time():
            raise _OutOfTime
        counts["run"] += 1
        try:
            run_lockstep(session, trace)
        except Unsupported:
            counts["declined"] += 1
            return
        except Diverged as exc:
            if not caught:
                caught.append(counts["run"])
            if not shortest or len(exc.trace.steps) <= len(shortest[0].trace.steps):
                shortest[:] = [exc]
            raise

    # One Hypothesis run for the whole search, so later examples grow deeper
    # (a restarted run begins again from the simplest traces); the time
    # budget ends it from inside with _OutOfTime.
    mix = all(f"preset:{p}" in info.features for p in ("seed", "recommended"))
    try:
        test = given(traces(usable, snapshots, max_steps, mix=mix,
                            deferred="deferred" in info.features,
                            allow_lists="allow_list" in info.features))(check)
        test = hypothesis_seed(seed * 1_000_003)(test)
        test = settings(max_examples=max_examples, database=None, deadline=None,
                        derandomize=False, verbosity=Verbosity.quiet,
                        phases=(Phase.generate, Phase.shrink) if shrink
                        else (Phase.generate,),
                        print_blob=False, report_multiple_bugs=False,
                        suppress_health_check=list(HealthCheck))(test)
        try:
            test()
        except _OutOfTime:
            pass
        except Diverged as exc:
            return FuzzResult(counts["run"], caught[0] if caught else None,
                              counts["declined"], _without_idle_states(session, exc))
    except KeyboardInterrupt:
        session.discard()
        return FuzzResult(counts["run"], caught[0] if caught else None, counts["declined"],
                          shortest[0] if shortest else None, interrupted=True)
    return FuzzResult(counts["run"], None, counts["declined"], None)


def _without_idle_states(session: Session, found: Diverged) -> Diverged:
    """``found`` with every single step removed that the divergence does not need
    (Hypothesis shrinks plans, and a plan it cannot turn into a skip cheaply
    keeps its step), then cut after its divergent step. A removal is kept when
    the trace still diverges no later than before; it is tried on the whole
    trace, so a divergence may move onto a later step of it (a retry storm that
    needs one failure fewer shows one backoff later). One step at a time, the
    earliest first (an early step that only feeds a later one goes before
    it), until no removal keeps the divergence."""
    best = found
    changed = True
    while changed:
        changed = False
        for index in range(len(best.trace.steps)):
            steps = best.trace.steps[:index] + best.trace.steps[index + 1:]
            if not steps:
                continue
            t = best.trace
            trial = Trace(t.config, t.start, _feasible(t.config, t.start, steps, t.allow_list),
                          t.allow_list)
            if len(trial.steps) >= len(t.steps):
                continue
            try:
                run_lockstep(session, trial)
            except Diverged as exc:
                if exc.step > best.step:
                    continue
                best = exc
                changed = True
                break
            except Unsupported:
                continue
    trace = best.trace
    return Diverged(Trace(trace.config, trace.start, trace.steps[:best.step + 1],
                          trace.allow_list),
                    best.step, best.message, best.divergence, best.stderr_tail)


def _preset_usable(preset: str, info: AdapterInfo) -> bool:
    needed = required_features(parse_config({"preset": preset}), ())
    return all(f in info.features for f in needed)


# -- output ----------------------------------------------------------------------------


def describe_step(step: Step) -> str:
    """One readable line for a step."""
    if isinstance(step, HandlerStep):
        return "handler outcomes " + ", ".join(o.value for o in step.outcomes)
    if isinstance(step, AnnounceStep):
        r = step.request
        who = "bad credential" if r.credential == BAD_CREDENTIAL else (
            f"user {_index(USERS, r.credential.strip('/').split('/')[0])}")
        return (f"t={step.now} announce {who} torrent {_index(TORRENTS, r.info_hash)} "
                f"peer {_index(PEERS, r.peer_id)} up={r.uploaded} down={r.downloaded} "
                f"left={r.left} event={r.event.value}")
    if isinstance(step, ReportStep):
        return f"t={step.now} report taken batch {step.taken}: {step.outcome.value}"
    return f"t={step.now} {step.op}"


def _index(pool: Sequence[Any], value: Any) -> str:
    return str(pool.index(value)) if value in pool else repr(value)


def render_failure(failure: Diverged) -> str:
    """The minimal trace, step by step, then the divergence."""
    trace = failure.trace
    mapping = config_to_mapping(trace.config)
    knobs = ", ".join(f"{k}={mapping[k]}" for k in (
        "batch_size", "shard_count", "peer_lifetime", "gc_interval", "max_batch_age",
        "max_pending", "retry_backoff_initial", "retry_backoff_max"))
    lines = [f"minimal divergent trace ({trace.config.preset} preset, {knobs}, "
             f"start={trace.start}):"]
    for i, step in enumerate(trace.steps):
        marker = ">>" if i == failure.step else "  "
        lines.append(f"  {marker} {i:2} {describe_step(step)}")
    heading = f"step {failure.step}: {failure.message}"
    if failure.divergence is not None:
        lines.append(failure.divergence.render(heading))
    else:
        lines.append(heading)
        if failure.stderr_tail:
            lines.append("adapter stderr (last lines):")
            lines.extend("  " + line for line in failure.stderr_tail.splitlines())
    return "\n".join(lines)


def failure_case(failure: Diverged, implementation: str, seed: int) -> Case:
    """The minimal trace as a vector case, expectations from the reference."""
    trace = failure.trace
    execution = Execution(trace.config, trace.start, trace.allow_list)
    steps = tuple(CaseStep(s, execution.apply(s)) for s in trace.steps)
    digest = _digest(encode_step(s) for s in trace.steps)
    return Case(
        id=f"fuzz/{trace.config.preset}/seed-{seed}-{digest}",
        description=(f"Minimal trace on which {implementation} diverged from the reference "
                     f"at step {failure.step} ({failure.message}); found by privtrak conform "
                     f"fuzz --seed {seed}."),
        rules=(), defects=(), preset=trace.config.preset,
        features=tuple(required_features(trace.config, trace.steps, trace.allow_list)),
        start=trace.start, config=trace.config, steps=steps, allow_list=trace.allow_list)


def _digest(items: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item, sort_keys=True).encode())
    return h.hexdigest()[:10]
