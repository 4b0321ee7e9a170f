"""The executor: step semantics the vectors rely on, checked by hand."""

from __future__ import annotations

import pytest

from privtrak.conformance._cases import CaseBuilder
from privtrak.conformance._cases_random import random_case
from privtrak.conformance._execute import Execution, ExecutionError, run_steps
from privtrak.conformance._steps import (
    AnnounceObservation,
    DeliverStep,
    GcStep,
    HandlerOutcome,
    HandlerStep,
    SnapshotRestoreStep,
    StateStep,
    StopStep,
)
from privtrak.reference import default_config, parse_config, shard_of
from privtrak.reference.ids import user


def test_time_must_not_go_backwards_and_nothing_changes() -> None:
    ex = Execution(default_config("seed"), 100)
    with pytest.raises(ExecutionError, match="backwards: 99 < 100"):
        ex.apply(StateStep(99))
    assert ex.now == 100
    with pytest.raises(ExecutionError):
        Execution(default_config("seed"), -1)


def test_run_steps_names_the_bad_step() -> None:
    with pytest.raises(ExecutionError, match=r"step 2 \(gc\)"):
        run_steps(default_config(), 0, [StateStep(0), StopStep(1), GcStep(2)])


@pytest.mark.parametrize("step", [DeliverStep(5), GcStep(5), StopStep(5)])
def test_ops_after_stop_are_invalid(step: DeliverStep | GcStep | StopStep) -> None:
    ex = Execution(default_config(), 0)
    ex.apply(StopStep(1))
    with pytest.raises(ExecutionError, match="after stop"):
        ex.apply(step)
    ex.apply(StateStep(5))
    ex.apply(SnapshotRestoreStep(5))


def test_handler_queue_is_fifo_and_defaults_to_ok() -> None:
    c = CaseBuilder("t", preset="recommended", rules=[], description="d",
                    config={"shard_count": 1, "batch_size": 1, "retry_backoff_max": 1})
    c.handler("fail_after_commit", "ok")
    c.handler("fail")
    for t in (1, 2, 3):
        c.announce(0, t=t, up=0)
    for t in (1, 2, 3):
        c.announce(1, t=t, up=t)
    outcomes = [d.outcome.value for d in c.deliver(1).deliveries]
    assert outcomes == ["fail_after_commit", "ok", "fail"]
    again = c.deliver(2).deliveries
    assert [(d.batch.batch_id, d.outcome) for d in again] == [(1, HandlerOutcome.OK),
                                                              (3, HandlerOutcome.OK)]


def test_fail_after_commit_is_a_failure_to_the_tracker() -> None:
    c = CaseBuilder("t", preset="seed", rules=[], description="d",
                    config={"shard_count": 1, "batch_size": 1})
    c.announce(0, up=0)
    c.handler("fail_after_commit")
    obs = c.announce(1, up=5)
    assert (obs.status.value, obs.reject) == ("rejected", "handler_failed")
    assert c.state(1).pending_records == 1


def test_rejected_announce_has_no_record_and_no_delivery() -> None:
    c = CaseBuilder("t", preset="seed", rules=[], description="d")
    obs = c.announce(0, credential="nope")
    assert obs == AnnounceObservation(obs.status, obs.reject, obs.outcome, None, ())
    assert (obs.status.value, obs.outcome.value, obs.reject) == ("rejected", "rejected",
                                                                 "bad_credential")


def test_stop_delivers_then_closes() -> None:
    c = CaseBuilder("t", preset="recommended", rules=[], description="d",
                    config={"shard_count": 2, "batch_scope": "shard"})
    for n in (1, 2, 3, 4):
        c.announce(0, u=n, up=0)
    for n in (1, 2, 3, 4):
        c.announce(1, u=n, up=n)
    c.handler("ok", "fail")
    out = c.stop(2)
    assert [d.outcome.value for d in out.deliveries] == ["ok", "fail"]
    assert out.returned == (out.deliveries[1].batch,)
    assert c.execution.stopped


@pytest.mark.parametrize("preset", ["seed", "recommended"])
@pytest.mark.parametrize("index", range(0, 64, 7))
def test_snapshot_restore_changes_nothing(preset: str, index: int) -> None:
    """Inserting snapshot_restore anywhere leaves every later observation equal (R8.3)."""
    case = random_case(preset, index)
    steps = [s.step for s in case.steps]
    plain = run_steps(case.config, case.start, steps)
    for cut in range(0, len(steps), 3):
        t = next((s.now for s in reversed(steps[:cut]) if not isinstance(s, HandlerStep)),
                 case.start)
        with_snap = run_steps(case.config, case.start,
                              [*steps[:cut], SnapshotRestoreStep(t), *steps[cut:]])
        assert with_snap[:cut] + with_snap[cut + 1:] == plain, (case.id, cut)


def test_builder_want_reports_the_case_and_step() -> None:
    c = CaseBuilder("x/y", preset="seed", rules=[], description="d")
    c.announce(0, up=1)
    with pytest.raises(AssertionError, match=r"case 'x/y', after step 0: thing"):
        c.want(1, 2, "thing")


def test_identities_are_readable() -> None:
    assert user(1).hex() == "11" * 15 + "00"
    assert len({shard_of(user(n), 4) for n in range(1, 5)}) == 4
    assert parse_config({"preset": "seed"}).policy.flush_path.value == "announce"
