"""Comparing an expected observation with an observed one, readably.

Only what the adapter claims to support is compared (PROTOCOL.md,
"Features"): a field gated by a feature the adapter did not declare is left
out, and without ``batch_ids`` batches are compared ignoring ``batch_id``.
Keys the expected observation does not have are ignored, so an adapter may
report more than asked. A ``null`` expectation for a GC's ``removed_entries``
or ``removed_users`` is not compared either: the seed panicked there and what
it removed first depends on Go's map order (SPEC.md R7.3). Everything else
must be equal, exactly.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

GATED_FIELDS: dict[str, str] = {
    "outcome": "outcomes",
    "record": "records",
    "seed_would_panic": "seed_panic",
    "ledger": "ledger",
    "next_deadline": "next_deadline",
}
"""Observation key -> the feature an adapter must declare for it to be compared."""

ENTRY_FIELDS: dict[str, str] = {"completed": "entry_flags"}
"""Key of a state entry -> the feature an adapter must declare for it to be compared."""

UNDEFINED_WHEN_NULL: frozenset[str] = frozenset({"removed_entries", "removed_users"})
"""Keys whose ``null`` expectation means "not compared"."""

MAX_PATHS = 8


@dataclass(frozen=True, slots=True)
class Divergence:
    """How an observation differs from the expectation."""

    paths: tuple[str, ...]
    """JSON paths of the differing values (at most MAX_PATHS), e.g. ``deliveries[0].batch``."""
    expected: Any
    observed: Any
    """Both sides after feature gating, as compared."""

    def render(self, heading: str) -> str:
        """A multi-line report: the heading, the differing paths, a unified diff."""
        lines = [heading]
        for path in self.paths:
            exp, obs = _at(self.expected, path), _at(self.observed, path)
            lines.append(f"  {path or '<observation>'}: expected {_short(exp)}, "
                         f"observed {_short(obs)}")
        exp_text = json.dumps(self.expected, indent=2, sort_keys=True).splitlines()
        obs_text = json.dumps(self.observed, indent=2, sort_keys=True).splitlines()
        diff = difflib.unified_diff(exp_text, obs_text, "expected", "observed", lineterm="", n=2)
        lines.extend("  " + line for line in diff)
        return "\n".join(lines)


def gate(observation: dict[str, Any], features: Collection[str]) -> dict[str, Any]:
    """``observation`` with the fields the adapter cannot report removed."""
    out = {k: v for k, v in observation.items()
           if k not in GATED_FIELDS or GATED_FIELDS[k] in features}
    hidden = [k for k, f in ENTRY_FIELDS.items() if f not in features]
    if hidden and isinstance(out.get("entries"), list):
        out["entries"] = [{k: v for k, v in e.items() if k not in hidden}
                          if isinstance(e, dict) else e for e in out["entries"]]
    if "batch_ids" not in features:
        out = _strip_batch_ids(out)
    return out


def compare(expected: dict[str, Any], observed: dict[str, Any],
            features: Collection[str], op: str | None = None) -> Divergence | None:
    """``None`` when ``observed`` matches ``expected`` under ``features``.

    ``op`` is the step's operation; only ``gc`` observations may hold the
    uncompared ``null`` counts.
    """
    if op in (None, "gc"):
        expected = {k: v for k, v in expected.items()
                    if not (v is None and k in UNDEFINED_WHEN_NULL)}
    exp = gate(expected, features)
    obs = gate({k: observed[k] for k in exp if k in observed}, features)
    if exp == obs:
        return None
    paths: list[str] = []
    _walk(exp, obs, "", paths)
    return Divergence(tuple(paths), exp, obs)


_MISSING = "<missing>"


def _walk(exp: object, obs: object, path: str, out: list[str]) -> None:
    if len(out) >= MAX_PATHS or exp == obs:
        return
    if isinstance(exp, dict) and isinstance(obs, dict):
        for key in sorted(set(exp) | set(obs)):
            _walk(exp.get(key, _MISSING), obs.get(key, _MISSING),
                  f"{path}.{key}" if path else key, out)
        return
    if isinstance(exp, list) and isinstance(obs, list):
        for i in range(max(len(exp), len(obs))):
            _walk(exp[i] if i < len(exp) else _MISSING, obs[i] if i < len(obs) else _MISSING,
                  f"{path}[{i}]", out)
        return
    out.append(path)


def _at(value: object, path: str) -> object:
    """The value at ``path`` (as produced by :func:`_walk`), or ``<missing>``."""
    current = value
    for part in _split_path(path):
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return _MISSING
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return _MISSING
            current = current[part]
    return current


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.replace("[", ".[").split("."):
        if not chunk:
            continue
        if chunk.startswith("["):
            parts.append(int(chunk[1:-1]))
        else:
            parts.append(chunk)
    return parts


def _short(value: object) -> str:
    if value is _MISSING:
        return _MISSING
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _strip_batch_ids(value: Any) -> Any:
    if isinstance(value, dict):
        if "records" in value and "batch_id" in value:
            value = {k: v for k, v in value.items() if k != "batch_id"}
        return {k: _strip_batch_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_batch_ids(v) for v in value]
    return value
