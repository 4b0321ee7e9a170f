"""Dotted scenario keys: check, read, merge, and suggest.

A study varies a scenario by dotted keys (``database.latency.base``); the
simulator's ``--set`` machinery applies them. These helpers check a key
before anything runs (with a did-you-mean) and merge inline scenario
mappings onto a base. They never mutate their inputs.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import Any

from privtrak.sim import Scenario


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` deep-merged with ``extra``: mappings merge, ``None`` removes the key
    (so the simulator's or the preset's default applies), anything else replaces."""
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def get_dotted(mapping: Mapping[str, Any], key: str) -> Any:
    """The value at dotted ``key``, or ``None`` when any part is missing."""
    node: Any = mapping
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _flatten(data: Mapping[str, Any], prefix: str, out: set[str]) -> None:
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        out.add(dotted)
        if isinstance(value, Mapping):
            _flatten(value, dotted, out)


def scenario_keys() -> frozenset[str]:
    """Every dotted key a scenario accepts (intermediate mappings included)."""
    keys: set[str] = set()
    _flatten(Scenario().to_data(), "", keys)
    for sub in ("at", "initial_rate", "decay", "torrents"):
        keys.add(f"workload.flash_crowd.{sub}")
    return frozenset(keys)


_DIST_KEYS = ("service_time", "late.delay", "size", "download_rate", "upload_rate",
              "seeding_time", "rejoin_gap", "latency.jitter")


def check_key(key: str) -> str | None:
    """``None`` when ``key`` names a scenario key; otherwise why not, with a suggestion."""
    known = scenario_keys()
    if key in known:
        return None
    # Keys below a distribution (workload.size.lognormal.sigma) are checked by the
    # simulator's own validation once the value is applied.
    for dist in _DIST_KEYS:
        for k in known:
            if k.endswith(dist) and key.startswith(k + "."):
                return None
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"is not a scenario key{hint}"
