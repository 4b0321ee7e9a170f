"""The rule cases, split by SPEC section, are all published, once, in order."""

from __future__ import annotations

import inspect
import re

from privtrak.conformance import (
    _cases_rules_accounting,
    _cases_rules_batching,
    _cases_rules_identity,
    _cases_rules_lifecycle,
    _cases_rules_purge,
)
from privtrak.conformance._cases_rules import RULE_CASES, rule_cases

SECTIONS = {
    _cases_rules_identity: (0, 1, 2),
    _cases_rules_accounting: (3, 4, 5),
    _cases_rules_batching: (6,),
    _cases_rules_purge: (7,),
    _cases_rules_lifecycle: (8, 9, 10, 11, 12),
}


def test_every_case_function_of_every_section_is_listed_once() -> None:
    defined = []
    for module, families in SECTIONS.items():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__:
                continue
            family = re.match(r"r(\d+)_", name)
            assert family, f"{module.__name__}.{name} is not named r<rule>_..."
            assert int(family.group(1)) in families, f"{name} is in the wrong section module"
            defined.append(fn)
    assert len(RULE_CASES) == len(set(RULE_CASES))
    assert set(defined) == set(RULE_CASES)


def test_each_case_id_names_a_rule_of_its_functions_family() -> None:
    for fn, case in zip(RULE_CASES, rule_cases("seed"), strict=True):
        rule = case.id.split("/")[1]  # seed/R2.1/slug -> R2.1
        assert rule.split(".")[0] == "R" + fn.__name__.split("_")[0][1:], (fn.__name__, case.id)
