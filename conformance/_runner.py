"""The vector runner: the conformance cases against an adapter command.

One adapter process serves the whole run; each case begins with a ``reset``.
A case ends as:

* ``passed``: every step's observation matched;
* ``failed``: the first divergent step is reported, expected vs observed;
* ``skipped``: the adapter lacks a feature the case needs (its preset is one,
  ``preset:<name>``), or it answered the reset with ``unsupported``;
* ``errored``: the adapter crashed, timed out (per message or per case),
  broke the protocol or answered ``error``; or the vector is malformed. The
  report names the file, case and step and carries the adapter's stderr
  tail. A crashed or confused adapter is killed and restarted before the
  next case.

The command line (``privtrak conform``) is in :mod:`.cli`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from ._client import AdapterInfo, StepFailed, Unsupported
from ._diff import compare
from ._load import BrokenCase, Case
from ._process import AdapterError, AdapterTimeout
from ._report import CaseResult, Status
from ._session import CannotRun, RunOptions, Session


def run_case(session: Session, case: Case) -> CaseResult:
    """Run one case; never raises for adapter trouble (except CannotRun on restart)."""
    if isinstance(case, BrokenCase):
        return CaseResult(case.case_id, case.source, Status.ERRORED,
                          f"malformed vector: {case.message}", "", case.step)
    assert session.info is not None
    missing = sorted(case.features - session.info.features)
    if missing:
        return CaseResult(case.case_id, case.source, Status.SKIPPED,
                          f"adapter lacks feature(s): {', '.join(missing)}")
    client = session.ensure()
    deadline = time.monotonic() + session.options.case_timeout
    step_index: int | None = None

    def remaining() -> float:
        return min(session.options.timeout, deadline - time.monotonic())

    try:
        client.reset(case.case_id, case.preset, case.config, case.start, remaining(),
                     allow_list=case.allow_list)
        for step_index, (step, expect) in enumerate(zip(case.steps, case.expects,
                                                        strict=True)):
            observed = client.step(step_index, step, remaining())
            divergence = compare(expect, observed, session.info.features, step["op"])
            if divergence is not None:
                client.check_observation(step["op"], observed)
                heading = (f"first divergence at step {step_index} "
                           f"{json.dumps(step, sort_keys=True)}")
                return CaseResult(case.case_id, case.source, Status.FAILED,
                                  f"{step['op']} observation differs at "
                                  f"{', '.join(p or '<observation>' for p in divergence.paths)}",
                                  divergence.render(heading), step_index)
    except Unsupported as exc:
        return CaseResult(case.case_id, case.source, Status.SKIPPED,
                          f"adapter declined the case: {exc.reason}")
    except AdapterError as exc:
        if not isinstance(exc, StepFailed):
            session.discard()
        message = exc.message
        if isinstance(exc, AdapterTimeout) and deadline - time.monotonic() <= 0:
            message = (f"case took longer than the per-case timeout of "
                       f"{session.options.case_timeout:g} s")
        where = "reset" if step_index is None else None
        detail = f"adapter stderr (last lines):\n{_indent(exc.stderr_tail)}" \
            if exc.stderr_tail else "adapter stderr: (empty)"
        return CaseResult(case.case_id, case.source, Status.ERRORED,
                          f"{where}: {message}" if where else message, detail, step_index)
    return CaseResult(case.case_id, case.source, Status.PASSED)


def run_cases(options: RunOptions, cases: Sequence[Case],
              on_result: Callable[[CaseResult], None] | None = None, *,
              on_open: Callable[[AdapterInfo], None] | None = None
              ) -> tuple[AdapterInfo, list[CaseResult]]:
    """Run ``cases`` against one adapter; raises CannotRun before any case ran.

    ``on_open`` sees the adapter's handshake before the first case;
    ``on_result`` sees each result as soon as it is known. An exception from
    it or a Ctrl-C (KeyboardInterrupt) ends the run: the adapter is killed at
    once (it may be in the middle of a step) and the exception propagates;
    the results delivered to ``on_result`` so far are the cases that ran.
    """
    session = Session(options)
    results: list[CaseResult] = []
    try:
        info = session.open()
        if on_open is not None:
            on_open(info)
        for case in cases:
            try:
                result = run_case(session, case)
            except CannotRun as exc:
                result = CaseResult(case.case_id, case.source, Status.ERRORED,
                                    f"the adapter could not be restarted: {exc}")
            results.append(result)
            if on_result is not None:
                on_result(result)
    except BaseException:
        session.discard()
        raise
    finally:
        session.close()
        session.discard()
    return info, results


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())

