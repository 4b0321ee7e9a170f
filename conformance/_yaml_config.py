"""A configuration in the seed's YAML form, as the reset message's ``config_yaml``.

The seed reads its configuration from YAML with Go durations (``gc_interval:
3m0s``). Adapters that load a config file can take this text instead of the
JSON ``config``; both say the same thing. Durations are written as Go's
``time.Duration.String`` writes them (``3m0s``, ``1h0m0s``, ``500ms``,
``1m30s``), disabled limits as the quoted string ``"off"`` (a bare ``off`` is
a boolean in YAML 1.1), policy values as plain words, booleans as
``true``/``false``. Key order is the order of ``config_to_mapping``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DURATION_KEYS: frozenset[str] = frozenset(
    {"gc_interval", "peer_lifetime", "prometheus_reporting_interval", "max_batch_age",
     "retry_backoff_initial", "retry_backoff_max"})
"""Keys whose numeric value is a duration in seconds."""

_UNITS = ((1_000_000, "ms"), (1_000, "µs"), (1, "ns"))


def go_duration(seconds: int | float) -> str:
    """``seconds`` as Go's ``time.Duration.String`` prints it (nanosecond precision)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"a duration is a number of seconds, got {seconds!r}")
    nanos = int(Decimal(repr(seconds)) * 1_000_000_000)
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos == 0:
        return "0s"
    if nanos < 1_000_000_000:
        for size, unit in _UNITS:
            if nanos >= size:
                return sign + _decimal(nanos, size) + unit
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def config_yaml(mapping: dict[str, Any]) -> str:
    """The YAML text of a complete config mapping (``config_to_mapping`` output)."""
    lines = []
    for key, value in mapping.items():
        if value == "off" or value is None:
            text = '"off"'
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif key in DURATION_KEYS:
            text = go_duration(value)
        else:
            text = str(value)
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + "\n"
