"""A small builder DSL for conformance cases.

A case is written as the steps a driver takes; the builder runs each step on
the reference executor at once and records the observation as the expected
one. Builders return the observation, so a case can also state its key
expectations by hand (:meth:`CaseBuilder.want`): a wrong executor then fails
generation instead of silently writing wrong vectors. ::

    c = CaseBuilder("seed/R4.1/negative-delta", preset="seed", rules=["R4.1"],
                    defects=[3], description="...")
    c.announce(0, up=100)
    c.want(c.announce(10, up=40).record.up, -60, "negative delta")
    case = c.build()

Identities are small numbers, from :mod:`privtrak.reference.ids`: user
``n`` is ``user(n)`` (passkey ``nn`` repeated 15 times then ``00``), torrent
``n`` is ``torrent(n)`` (``a<n>`` repeated) and peer ``n`` is ``peer(n)``
(``c<n>`` repeated), so vectors stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from privtrak.reference import (
    AnnounceRequest,
    ByteCount,
    DeltaRecord,
    Event,
    TrackerState,
    parse_config,
)
from privtrak.reference.ids import passkey_path, peer, torrent, user

from ._execute import Execution
from ._steps import (
    AnnounceObservation,
    AnnounceStep,
    DeliverObservation,
    DeliverStep,
    GcObservation,
    GcStep,
    HandlerOutcome,
    HandlerStep,
    Observation,
    ReportStep,
    SnapshotRestoreStep,
    StateObservation,
    StateStep,
    Step,
    StopObservation,
    StopStep,
    TakeObservation,
    TakeStep,
)
from ._vectors import FIELD_FEATURES, Case, CaseStep, required_features


class CaseCheckError(AssertionError):
    """A hand-stated expectation of a case does not hold for the reference."""


class CaseBuilder:
    """Builds one case by running its steps on a fresh reference executor.

    ``config`` holds overrides on top of ``preset`` (any key
    :func:`privtrak.reference.parse_config` accepts); ``needs`` adds features
    the case's point depends on beyond those derived automatically.
    """

    def __init__(self, case_id: str, *, preset: str, rules: Iterable[str],
                 description: str, defects: Iterable[int] = (),
                 config: Mapping[str, Any] | None = None, start: int = 0,
                 needs: Iterable[str] = (), allow_list: Iterable[int] | None = None) -> None:
        self.id = case_id
        self.preset = preset
        self.rules = tuple(rules)
        self.defects = tuple(defects)
        self.description = description
        self.config = parse_config({"preset": preset, **(config or {})})
        self.start = start
        # Field features gate fields, not cases (PROTOCOL.md section 5).
        self.needs = tuple(n for n in needs if n not in FIELD_FEATURES)
        self.allow_list = None if allow_list is None else frozenset(user(n) for n in allow_list)
        self.execution = Execution(self.config, start, self.allow_list)
        self.steps: list[CaseStep] = []

    # -- steps ----------------------------------------------------------------

    def run(self, step: Step) -> Observation:
        """Run any step and record it with its observation."""
        obs = self.execution.apply(step)
        self.steps.append(CaseStep(step, obs))
        return obs

    def handler(self, *outcomes: str) -> None:
        """Script the next deliveries' outcomes (``ok``, ``fail``, ``fail_after_commit``)."""
        self.run(HandlerStep(tuple(HandlerOutcome(o) for o in outcomes)))

    def announce(self, now: int, *, u: int = 1, t: int = 1, p: int = 1, up: int = 0,
                 down: int = 0, left: int = 0, event: str = "none",
                 credential: str | None = None, ip: str = "10.0.0.1",
                 port: int = 6881) -> AnnounceObservation:
        """Announce for user ``u``, torrent ``t``, peer ``p`` with absolute counters."""
        request = AnnounceRequest(
            passkey_path(u) if credential is None else credential,
            torrent(t), peer(p), ByteCount(up), ByteCount(down), ByteCount(left), Event(event),
            ip, port)
        obs = self.run(AnnounceStep(now, request))
        assert isinstance(obs, AnnounceObservation)
        return obs

    def deliver(self, now: int) -> DeliverObservation:
        """A background flusher pass."""
        obs = self.run(DeliverStep(now))
        assert isinstance(obs, DeliverObservation)
        return obs

    def take(self, now: int) -> TakeObservation:
        """Take the next due batch and leave it in flight."""
        obs = self.run(TakeStep(now))
        assert isinstance(obs, TakeObservation)
        return obs

    def report(self, now: int, outcome: str, taken: int = 0) -> None:
        """Report the outcome of the ``taken``-th outstanding batch."""
        self.run(ReportStep(now, taken, HandlerOutcome(outcome)))

    def gc(self, now: int) -> GcObservation:
        """A garbage collection."""
        obs = self.run(GcStep(now))
        assert isinstance(obs, GcObservation)
        return obs

    def stop(self, now: int) -> StopObservation:
        """Stop, deliver, close."""
        obs = self.run(StopStep(now))
        assert isinstance(obs, StopObservation)
        return obs

    def snapshot_restore(self, now: int) -> None:
        """Snapshot and restore the whole state."""
        self.run(SnapshotRestoreStep(now))

    def state(self, now: int) -> StateObservation:
        """The state summary."""
        obs = self.run(StateStep(now))
        assert isinstance(obs, StateObservation)
        return obs

    # -- hand-stated expectations ---------------------------------------------

    def want(self, actual: object, expected: object, what: str) -> None:
        """Raise :class:`CaseCheckError` unless ``actual == expected``."""
        if actual != expected:
            raise CaseCheckError(f"case {self.id!r}, after step {len(self.steps) - 1}: "
                                 f"{what}: expected {expected!r}, the reference gave {actual!r}")

    def want_record(self, obs: AnnounceObservation, up: int | None, down: int = 0,
                    event: str | None = None, kind: str = "transfer") -> DeltaRecord | None:
        """Check the announce's record: ``up=None`` means no record at all."""
        if up is None:
            self.want(obs.record, None, "no record")
            return None
        rec = obs.record
        if rec is None:
            raise CaseCheckError(f"case {self.id!r}, step {len(self.steps) - 1}: expected a "
                                 f"{kind} record, the reference emitted none")
        self.want((rec.kind.value, rec.up, rec.down), (kind, up, down), "record kind/up/down")
        if event is not None:
            self.want(rec.event.value, event, "record event")
        return rec

    def want_outcome(self, obs: AnnounceObservation, outcome: str,
                     reject: str | None = None) -> None:
        """Check the announce's accounting outcome and reject code."""
        self.want(obs.outcome.value, outcome, "outcome")
        self.want(None if obs.reject is None else obs.reject.value, reject, "reject code")

    def build(self) -> Case:
        """The finished case, expectations included.

        Every case ends with a state summary: one is appended (at the latest
        time) unless the last step already is one.
        """
        if not self.steps:
            raise ValueError(f"case {self.id!r} has no steps")
        crashed = self.execution.tracker.state is TrackerState.CRASHED
        if not crashed and not isinstance(self.steps[-1].step, StateStep):
            self.state(self.execution.now)
        features = required_features(self.config, (s.step for s in self.steps),
                                     self.allow_list)
        features += [f for f in self.needs if f not in features]
        return Case(self.id, self.description, self.rules, self.defects, self.preset,
                    tuple(features), self.start, self.config, tuple(self.steps),
                    self.allow_list)
