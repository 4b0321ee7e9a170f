"""The driver's clock and the seed's crash (SPEC R0, R7.3): checks every call makes."""

from __future__ import annotations

from privtrak.reference import Seconds, TrackerState, Unmodelled, UsageError

from .state import ModelState


def check_clock(m: ModelState, now: object) -> int:
    """R0: ``now`` is whole seconds as an ``int`` (not ``bool``, not ``float``),
    never smaller than any ``now`` passed before; a violation raises
    ``UsageError`` and changes nothing."""
    if type(now) is not int:
        raise UsageError(f"now must be whole seconds as an int, got {now!r}")
    if now < m.now:
        raise UsageError(f"now went backwards: {now} < {m.now}")
    return now


def advance_clock(m: ModelState, now: Seconds) -> None:
    """R0: every accepted call advances the tracker's clock to ``now``, also a
    call whose announce is then rejected."""
    m.now = now


def check_alive(m: ModelState) -> None:
    """R7.3: after the seed's GC panic the process is dead (``CRASHED``): every
    later call raises ``Unmodelled``."""
    if m.state is TrackerState.CRASHED:
        raise Unmodelled("the seed's process died in a GC panic (R7.3 abort); nothing after "
                         "it is modelled")
