"""Per-case results of a conformance run and their human-readable report."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


class Status(enum.StrEnum):
    """What happened to one case."""

    PASSED = "passed"
    FAILED = "failed"
    """The adapter answered, with an observation that differs from the vector."""
    SKIPPED = "skipped"
    """The adapter lacks a feature or preset the case needs, or declined it at reset."""
    ERRORED = "errored"
    """The adapter crashed, timed out, broke the protocol or reported an error; or the
    vector itself is malformed."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The result of one case. ``step`` is the index of the step it ended at, if any."""

    case_id: str
    source: str
    """The vector file (its name) the case comes from."""
    status: Status
    message: str = ""
    detail: str = ""
    """The expected-vs-observed diff (failed) or the adapter's stderr tail (errored)."""
    step: int | None = None

    def headline(self) -> str:
        """One line: status, file, case, step and message."""
        where = f"{self.source}: {self.case_id}"
        if self.step is not None:
            where += f" step {self.step}"
        text = f"{self.status.value.upper():8} {where}"
        return f"{text}: {self.message}" if self.message else text


def tally(results: Iterable[CaseResult]) -> Counter[Status]:
    """How many cases ended in each status (every status present, maybe 0)."""
    counts: Counter[Status] = Counter(dict.fromkeys(Status, 0))
    counts.update(r.status for r in results)
    return counts


def summary_line(results: list[CaseResult], adapter: str) -> str:
    """The run's last line, e.g. ``conform: 230 cases, 228 passed, ... (adapter: x 1.0)``."""
    counts = tally(results)
    parts = ", ".join(f"{counts[s]} {s.value}" for s in Status)
    return f"conform: {len(results)} cases, {parts} (adapter: {adapter})"


def exit_status(results: list[CaseResult]) -> int:
    """0 when every applicable case passed, 1 when one failed or errored."""
    counts = tally(results)
    return 1 if counts[Status.FAILED] or counts[Status.ERRORED] else 0
