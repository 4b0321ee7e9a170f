"""``--set dotted.key=value``: override scenario keys before validation.

An assignment replaces one key of the raw scenario mapping (creating the
mappings on its path when missing); the value is read as YAML, so
``workload.population=500`` is a number, ``database.latency.base=500ms`` a
duration and ``database.outages=[{start: 20m, duration: 5m}]`` a list. The
result is then validated exactly like a scenario file: an unknown key or a
bad value is refused with the dotted key named.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from ._errors import ScenarioError


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``"a.b=v"`` -> (``["a", "b"]``, the YAML value of ``v``)."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise ScenarioError("--set", text, "must be dotted.key=value "
                            "(e.g. workload.population=500)")
    dotted = ".".join(p.strip() for p in parts)
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise ScenarioError(dotted, value, "is not a valid YAML value") from None
    return [p.strip() for p in parts], parsed


def apply_overrides(raw: object, assignments: Sequence[str]) -> dict[str, Any]:
    """A copy of the raw scenario mapping ``raw`` with every assignment applied
    in order. Only the shape is checked here (a key below a value that is
    not a mapping is refused); validation comes after."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ScenarioError("<root>", raw, "must be a mapping of keys to values")
    out: dict[str, Any] = copy.deepcopy(dict(raw))
    for text in assignments:
        path, value = parse_assignment(text)
        node = out
        for depth, name in enumerate(path[:-1]):
            child = node.get(name)
            if child is None:
                child = node[name] = {}
            elif not isinstance(child, dict):
                where = ".".join(path[:depth + 1])
                raise ScenarioError(where, child,
                                    f"is not a mapping, so {'.'.join(path)!r} cannot be set")
            node = child
        node[path[-1]] = value
    return out
