"""The simulator's error: a scenario that cannot run."""

from __future__ import annotations

from privtrak.reference import PrivtrakError


class ScenarioError(PrivtrakError, ValueError):
    """A scenario key is unknown, of the wrong type or out of range.

    ``path`` is the dotted key (``workload.arrivals.rate``), ``value`` the
    offending value. Raised before anything runs.
    """

    def __init__(self, path: str, value: object, why: str) -> None:
        self.path = path
        self.value = value
        self.why = why
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        subject = _NOT_KEYS.get(path, f"scenario key {path!r}")
        super().__init__(f"{subject}: {why} (got {shown})")


_NOT_KEYS = {"<file>": "scenario file", "<scenario>": "scenario name", "<root>": "scenario"}
"""How errors about the whole scenario, rather than one key, name their subject."""
