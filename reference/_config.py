"""Configuration: the seed's YAML keys, Go durations, and the policy keys.

:func:`parse_config` takes the mapping a YAML file decodes to and returns a
:class:`Config` or raises :class:`ConfigError` naming the key and the value.
It never logs: fall-backs the seed would warn about are returned in
``Config.warnings`` for the driver to print.

Rules (SPEC.md R10):

1. ``preset`` (``recommended`` by default, or ``seed``) chooses the policy
   values and the defaults of the keys below; any policy field may then be
   overridden by its own key.
2. The seed's keys keep its rule: zero or absent falls back to the default,
   zero with a warning. Negative values are errors.
3. Keys the seed does not have (``max_batch_age``, ``max_pending``,
   ``retry_backoff_initial``, ``retry_backoff_max``): absent means the preset
   default, ``off`` (or null) disables where that makes sense, zero is an
   error.
4. Durations use Go's syntax (``"30m"``, ``"1h30m"``, ``"500ms"``). Those the
   core uses on its own clock must be whole seconds; an integer means seconds.
5. Unknown keys, wrong types and unparsable values are errors.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from ._errors import ConfigError
from ._policy import POLICY_FIELDS, PRESETS, Policy
from ._types import Duration

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(key: str, text: str) -> Fraction:
    """Parse Go duration syntax into seconds, exactly.

    Accepts what Go's ``time.ParseDuration`` accepts (a sign, then one or more
    ``<number><unit>`` parts, or a bare ``0``). Raises :class:`ConfigError`.
    """
    if not isinstance(text, str):
        raise ConfigError(key, text, "must be a duration string such as 30m or 500ms")
    src = text.strip()
    sign = 1
    if src[:1] in "+-" and src:
        sign = -1 if src[0] == "-" else 1
        src = src[1:]
    if src == "0":
        return Fraction(0)
    if not src:
        raise ConfigError(key, text, "is not a duration (examples: 30m, 1h30m, 500ms)")
    total_ns = Fraction(0)
    pos = 0
    while pos < len(src):
        match = _DURATION_PART.match(src, pos)
        if match is None:
            raise ConfigError(key, text, "is not a duration (examples: 30m, 1h30m, 500ms)")
        total_ns += Fraction(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    return sign * total_ns / 1_000_000_000


@dataclass(frozen=True, slots=True)
class Config:
    """A validated tracker configuration. Build it with :func:`parse_config`."""

    preset: str = "recommended"
    policy: Policy = PRESETS["recommended"]
    batch_size: int = 1024
    shard_count: int = 1024
    gc_interval: Duration = Duration(180)
    """Seconds between garbage collections."""
    peer_lifetime: Duration = Duration(3600)
    """Seconds a baseline survives without an announce."""
    prometheus_reporting_interval: float = 1.0
    max_batch_age: Duration | None = Duration(10)
    """Seconds a record may wait in a shard buffer before its batch is sealed."""
    max_pending: int | None = 1_048_576
    """Records held (buffered, sealed or in flight) before announces are refused."""
    retry_backoff_initial: Duration = Duration(1)
    """Seconds a failed batch waits before its first retry (R6.5)."""
    retry_backoff_max: Duration = Duration(300)
    """The longest wait between retries of a failed batch (R6.5)."""
    warnings: tuple[str, ...] = field(default=(), compare=False)


_PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "recommended": {},
    "seed": {
        "peer_lifetime": 1800,
        "max_batch_age": None,
        "max_pending": None,
    },
}

_SEED_KEYS = ("batch_size", "shard_count", "gc_interval", "peer_lifetime",
              "prometheus_reporting_interval")
_WHOLE_SECOND_KEYS = ("gc_interval", "peer_lifetime", "max_batch_age",
                      "retry_backoff_initial", "retry_backoff_max")
_COUNT_KEYS = ("batch_size", "shard_count", "max_pending")
_OPTIONAL_KEYS = ("max_batch_age", "max_pending")
KNOWN_KEYS: frozenset[str] = frozenset(
    ("preset", *_SEED_KEYS, "max_batch_age", "max_pending", "retry_backoff_initial",
     "retry_backoff_max", *POLICY_FIELDS)
)


def default_config(preset: str = "recommended") -> Config:
    """The configuration of ``preset`` with every key at its default."""
    return parse_config({"preset": preset})


def parse_config(raw: Mapping[str, Any]) -> Config:
    """Validate ``raw`` (a decoded YAML mapping) into a :class:`Config`.

    Raises :class:`ConfigError` naming the first offending key; nothing else
    is raised for bad input.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("<root>", raw, "must be a mapping of keys to values")
    for key in raw:
        if key not in KNOWN_KEYS:
            raise ConfigError(str(key), raw[key], f"unknown key{_did_you_mean(key, KNOWN_KEYS)}; "
                                                  f"known keys: {sorted(KNOWN_KEYS)}")
    preset = raw.get("preset", "recommended")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError("preset", preset, f"must be one of {sorted(PRESETS)}"
                                            f"{_did_you_mean(preset, PRESETS)}")
    base = Config(preset=preset, policy=PRESETS[preset])
    base = replace(base, **_PRESET_DEFAULTS[preset])
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for key in _SEED_KEYS:
        if key in raw:
            parsed = _parse_number_key(key, raw[key])
            if parsed == 0:
                warnings.append(f"{key} is zero; using the default {getattr(base, key)}")
            elif parsed is not None:
                values[key] = parsed
    for key in ("max_batch_age", "max_pending", "retry_backoff_initial", "retry_backoff_max"):
        if key in raw:
            parsed = _parse_number_key(key, raw[key])
            if parsed is None and key not in _OPTIONAL_KEYS:
                raise ConfigError(key, raw[key], "cannot be disabled")
            if parsed == 0:
                hint = "; use off to disable" if key in _OPTIONAL_KEYS else ""
                raise ConfigError(key, raw[key], "must be positive" + hint)
            values[key] = parsed
    policy_values: dict[str, Any] = {k: _parse_policy_key(base.policy, k, raw[k])
                     for k in POLICY_FIELDS if k in raw}
    config = replace(base, policy=replace(base.policy, **policy_values), **values,
                     warnings=tuple(warnings))
    if config.retry_backoff_max < config.retry_backoff_initial:
        raise ConfigError("retry_backoff_max", config.retry_backoff_max,
                          "must not be smaller than retry_backoff_initial")
    return config


def _parse_number_key(key: str, value: object) -> int | float | None:
    """Parse one numeric key; ``None`` means absent/off."""
    if value is None or value == "off":
        if key in _OPTIONAL_KEYS:
            return None
        raise ConfigError(key, value, "must have a value")
    if isinstance(value, bool):
        raise ConfigError(key, value, "must be a number, not a boolean")
    if key in _COUNT_KEYS:
        if not isinstance(value, int):
            raise ConfigError(key, value, "must be a whole number")
        if value < 0:
            raise ConfigError(key, value, "must not be negative")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, value, "must be a finite number")
    if isinstance(value, int | float):
        seconds = Fraction(value)
    elif isinstance(value, str):
        seconds = parse_go_duration(key, value)
    else:
        raise ConfigError(key, value, "must be a duration such as 30m or 500ms")
    if seconds < 0:
        raise ConfigError(key, value, "must not be negative")
    if key in _WHOLE_SECOND_KEYS:
        if seconds.denominator != 1:
            raise ConfigError(key, value, "must be a whole number of seconds")
        return int(seconds)
    return float(seconds)


def _parse_policy_key(base: Policy, key: str, value: object) -> object:
    current = getattr(base, key)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(key, value, "must be true or false")
        return value
    choices = type(current)
    try:
        return choices(value)
    except ValueError:
        values = [c.value for c in choices]
        raise ConfigError(key, value,
                          f"must be one of {values}{_did_you_mean(value, values)}") from None


def _did_you_mean(word: object, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name closest to ``word``, or ``""``."""
    close = difflib.get_close_matches(str(word), sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
