"""What the rule cases share: the builder shortcut and the default config.

Each rule case (the ``_cases_rules_*`` modules) is a function of a preset
name returning one case whose id is ``<preset>/<rule>/<slug>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._cases import CaseBuilder
from ._vectors import Case

CaseFn = Callable[[str], Case]
"""A rule case: preset name -> case."""

ONE_SHARD: dict[str, Any] = {"shard_count": 1}
"""Rule cases run on one shard unless they say otherwise."""

SEED = "seed"


def new(preset: str, rule: str, slug: str, description: str, *, rules: tuple[str, ...] = (),
        config: dict[str, Any] | None = None, **kwargs: Any) -> CaseBuilder:
    """A builder with the id ``<preset>/<rule>/<slug>`` covering ``rule`` (+ ``rules``)."""
    return CaseBuilder(f"{preset}/{rule}/{slug}", preset=preset, rules=(rule, *rules),
                       description=description, config={**ONE_SHARD, **(config or {})},
                       **kwargs)
