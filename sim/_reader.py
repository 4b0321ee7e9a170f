"""Reading one mapping of a scenario: typed keys, dotted paths, unknown keys refused."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from ._dists import Dist, parse_dist
from ._errors import ScenarioError
from ._units import parse_quantity


def unknown_key_reason(key: str, known: Iterable[str]) -> str:
    """``unknown key (did you mean 'x'?); known keys here: [...]``."""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; known keys here: {names}"


class Section:
    """Reads one mapping of a scenario, remembering the dotted path and refusing
    keys nobody asked for (call :meth:`done` last)."""

    def __init__(self, path: str, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ScenarioError(path or "<root>", raw, "must be a mapping of keys to values")
        self.path = path
        self.raw = raw
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        self.seen.add(name)
        return name in self.raw and self.raw[name] is not None

    def get(self, name: str) -> Any:
        self.seen.add(name)
        return self.raw.get(name)

    def number(self, name: str, default: float, *, duration: bool = False,
               positive: bool = False, at_most: float | None = None) -> float:
        if not self.has(name):
            return default
        value = parse_quantity(self.key(name), self.raw[name], duration=duration)
        if value < 0:
            raise ScenarioError(self.key(name), self.raw[name], "must not be negative")
        if positive and value == 0:
            raise ScenarioError(self.key(name), self.raw[name], "must be positive")
        if at_most is not None and value > at_most:
            raise ScenarioError(self.key(name), self.raw[name], f"must be at most {at_most}")
        return value

    def integer(self, name: str, default: int, *, positive: bool = False) -> int:
        if not self.has(name):
            return default
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(self.key(name), value, "must be a whole number")
        if value < 0 or (positive and value == 0):
            raise ScenarioError(self.key(name), value,
                                "must be positive" if positive else "must not be negative")
        return value

    def fraction(self, name: str, default: float) -> float:
        return self.number(name, default, at_most=1.0)

    def dist(self, name: str, default: Dist, *, duration: bool = False,
             allow_zero: bool = True) -> Dist:
        if not self.has(name):
            return default
        return parse_dist(self.key(name), self.raw[name], duration=duration,
                          allow_zero=allow_zero)

    def boolean(self, name: str, default: bool) -> bool:
        if not self.has(name):
            return default
        value = self.raw[name]
        if not isinstance(value, bool):
            raise ScenarioError(self.key(name), value, "must be true or false")
        return value

    def text(self, name: str, default: str) -> str:
        if not self.has(name):
            return default
        value = self.raw[name]
        if not isinstance(value, str):
            raise ScenarioError(self.key(name), value, "must be text")
        return value

    def section(self, name: str) -> Section:
        self.seen.add(name)
        return Section(self.key(name), self.raw.get(name))

    def done(self) -> None:
        """Refuse any key nobody read, suggesting the closest known one."""
        for key in self.raw:
            if key not in self.seen:
                raise ScenarioError(self.key(str(key)), self.raw[key],
                                    unknown_key_reason(str(key), self.seen))


def check_seed(path: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(path, value, "must be a non-negative whole number")
    return value
