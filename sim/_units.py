"""Scenario quantities: plain numbers, or Go durations for times."""

from __future__ import annotations

import math

from privtrak.reference import ConfigError, Seconds, parse_go_duration

from ._errors import ScenarioError


def core_time(sim_now: float, epoch: Seconds) -> Seconds:
    """The core's clock at simulated time ``sim_now``: the whole simulated
    seconds elapsed, counted from the scenario's ``start_epoch`` (SPEC.md R0)."""
    return Seconds(int(sim_now) + epoch)


def parse_quantity(path: str, raw: object, *, duration: bool = False) -> float:
    """A finite number from ``raw``; with ``duration``, also ``"30m"``-style text
    (and a plain number of seconds as text, ``"3600"``).

    Durations are returned in seconds. Raises :class:`ScenarioError` naming
    ``path``. Signs are kept: callers decide whether negative is allowed.
    """
    if isinstance(raw, bool):
        raise ScenarioError(path, raw, "must be a number, not a boolean")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and duration:
        try:
            value = float(raw)  # a plain number of seconds: "3600", "-5", "1.5"
        except ValueError:
            try:
                value = float(parse_go_duration(path, raw))
            except ConfigError:
                raise ScenarioError(path, raw, "is not a duration (examples: 30m, 1h30m, "
                                    "500ms, or a number of seconds such as 3600)") from None
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            raise ScenarioError(path, raw, "must be a number") from None
    else:
        kind = "a duration (30m) or a number of seconds" if duration else "a number"
        raise ScenarioError(path, raw, f"must be {kind}")
    if not math.isfinite(value):
        raise ScenarioError(path, raw, "must be finite")
    return value
