"""The fuzzer's deferred-delivery motif and its last shrinking pass."""

from __future__ import annotations

import pytest

from privtrak.conformance import RunOptions, Session
from privtrak.conformance._fuzz import Diverged, _without_idle_states, run_lockstep
from privtrak.conformance._fuzz_traces import (
    PEERS,
    TORRENTS,
    USERS,
    Trace,
    _defer,
    _feasible,
    _Plan,
)
from privtrak.conformance._mutants import adapter_command
from privtrak.conformance._steps import (
    AnnounceStep,
    DeliverStep,
    HandlerOutcome,
    HandlerStep,
    ReportStep,
    StateStep,
    TakeStep,
)
from privtrak.reference import AnnounceRequest, ByteCount, Event, parse_config


def _announce(now: int, up: int, down: int) -> AnnounceStep:
    return AnnounceStep(now, AnnounceRequest(
        "/" + USERS[0] + "/announce", TORRENTS[0], PEERS[0], ByteCount(up), ByteCount(down),
        ByteCount(0), Event.NONE, "10.0.0.1", 6881))


def _defer_plan(announces: int, outcome: HandlerOutcome) -> _Plan:
    return _Plan("defer", 0, 0, 0, 0, "grow", announces, Event.NONE, False, 0, (outcome,))


def test_the_defer_motif_fails_a_taken_batch_while_newer_records_are_buffered() -> None:
    # A failed batch merged back must go before the record buffered while it
    # was out: the motif alone, after one batch of traffic, shows a mutant
    # that appends it behind.
    config = parse_config({"preset": "recommended", "batch_size": 2, "shard_count": 1,
                           "failed_batch": "merge"})
    setup = [_announce(1, 0, 0), _announce(1, 1, 0), _announce(1, 2, 0)]
    counters = {(0, 0, 0): (2, 0)}
    motif = _defer(_defer_plan(1, HandlerOutcome.FAIL), 1, counters)
    assert [s.op for s in motif] == ["take", "announce", "report", "announce", "deliver"]
    announced = [s for s in motif if isinstance(s, AnnounceStep)]
    assert [(s.request.uploaded, s.request.downloaded) for s in announced] == [(3, 3), (4, 6)]
    assert counters[(0, 0, 0)] == (4, 6)
    steps = _feasible(config, 0, [*setup, *motif])
    report = next(s for s in steps if isinstance(s, ReportStep))
    assert report.taken == 0  # aimed at the batch the motif took
    assert len(steps) == len(setup) + len(motif)
    with pytest.raises(Diverged) as caught:
        _lockstep("merge-behind-newer", Trace(config, 0, steps))
    assert caught.value.step == len(steps) - 1  # the last pass hands the batch out
    assert "records[0]" in caught.value.message
    _lockstep("privtrak-reference", Trace(config, 0, steps))  # the reference agrees


def _lockstep(mutant: str, trace: Trace) -> None:
    command = adapter_command(mutant) if mutant != "privtrak-reference" else (
        adapter_command("merge-behind-newer").rsplit(" --mutant", 1)[0])
    session = Session(RunOptions(command))
    session.open()
    try:
        run_lockstep(session, trace)
    finally:
        session.close()
        session.discard()


def test_a_report_of_the_newest_taken_batch_is_aimed_by_feasible() -> None:
    config = parse_config({"preset": "recommended", "batch_size": 1, "shard_count": 1})
    steps = [_announce(1, 0, 0), _announce(1, 1, 0), _announce(1, 2, 0), TakeStep(1),
             TakeStep(1), ReportStep(1, -1, HandlerOutcome.FAIL), ReportStep(1, -1,
                                                                             HandlerOutcome.OK)]
    out = _feasible(config, 0, steps)
    reports = [s for s in out if isinstance(s, ReportStep)]
    assert [r.taken for r in reports] == [1, 0]  # the newest of two, then the only one
    # Nothing taken: the report is dropped.
    assert not [s for s in _feasible(config, 0, [ReportStep(1, -1, HandlerOutcome.FAIL)])]


def test_the_last_pass_removes_a_failure_a_retry_storm_does_not_need() -> None:
    # A failed delivery before a storm of two: the storm alone, one backoff
    # later, shows the uncapped backoff too; cutting the trace at its divergent
    # step first would leave the extra failure in (seven steps).
    config = parse_config({"preset": "recommended", "batch_size": 1, "shard_count": 1,
                           "retry_backoff_initial": 2, "retry_backoff_max": 2,
                           "gc_interval": 1000})
    steps = (HandlerStep((HandlerOutcome.FAIL,)), _announce(2, 1, 3), _announce(2, 2, 6),
             DeliverStep(2), HandlerStep((HandlerOutcome.FAIL, HandlerOutcome.FAIL)),
             DeliverStep(2), DeliverStep(4), DeliverStep(6), StateStep(6))
    session = Session(RunOptions(adapter_command("backoff-uncapped")))
    session.open()
    try:
        with pytest.raises(Diverged) as caught:
            run_lockstep(session, Trace(config, 0, steps))
        assert caught.value.step == 7
        best = _without_idle_states(session, caught.value)
    finally:
        session.close()
        session.discard()
    # Two announces (a baseline, then a record), the two failures, the two
    # failed deliveries, and the step that shows the backoff past the cap.
    ops = [s.op for s in best.trace.steps]
    assert ops[:5] == ["announce", "announce", "handler", "deliver", "deliver"]
    assert ops[5] in ("deliver", "state") and len(ops) == 6
    assert best.trace.steps[2] == HandlerStep((HandlerOutcome.FAIL, HandlerOutcome.FAIL))
    assert best.step == 5
