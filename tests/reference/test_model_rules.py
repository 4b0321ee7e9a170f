"""SPEC.md and the normative model point at each other, one hop each way.

* every rule heading of SPEC.md (R0..R12, G*) has one ``Model:`` line that
  names model functions which exist, or says why the rule has no model step;
* every rule is cited by a model function's docstring, or listed as having
  no model step (never both), and every rule a docstring cites exists;
* every public function of the model's modules starts its docstring with
  the rule ids it implements;
* the index ``reference/RULES.md`` (rule -> prose -> model -> Tracker ->
  tests) is what ``rule_index.py`` generates from the sources, and every
  Tracker name in it resolves.

Regenerate SPEC's ``Model:`` lines and RULES.md with
``python tests/reference/rule_index.py --write``.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
import rule_index as ix

SPEC_TEXT = ix.SPEC.read_text(encoding="utf-8")
RULES = ix.spec_rules(SPEC_TEXT)
REGENERATE = "run `python tests/reference/rule_index.py --write`"


def test_spec_has_every_rule_heading_once() -> None:
    ids = [m.group(1) for m in ix.HEADING.finditer(SPEC_TEXT)]
    assert len(ids) == len(set(ids)), "a rule id heads two sections"
    assert {"R0", "R3.1", "R7.3", "R12", "G1", "G2"} <= set(ids)


def test_every_rule_heading_is_followed_by_its_model_line() -> None:
    for m in ix.HEADING.finditer(SPEC_TEXT):
        rest = SPEC_TEXT[m.end():]
        assert rest.startswith("\n\nModel: "), f"{m.group(1)}: no `Model:` line under it"
        line = rest[2:].split("\n", 1)[0]
        assert line == ix.pointer_line(m.group(1)), (
            f"{m.group(1)}: the Model line is stale; {REGENERATE}\n{line}")


def test_each_model_line_names_functions_that_exist() -> None:
    names = 0
    for line in ix.POINTER.findall(SPEC_TEXT):
        if line.startswith("Model: none; "):
            continue
        for name in re.findall(r"`([\w.]+)`", line):
            module, _, fn = f"privtrak.reference.model.{name}".rpartition(".")
            assert inspect.isfunction(getattr(importlib.import_module(module), fn, None)), name
            names += 1
    assert names >= 40


def test_every_rule_is_cited_by_the_model_or_says_why_not() -> None:
    by_rule = ix.functions_by_rule()
    for rule in RULES:
        cited = rule in by_rule
        assert cited != (rule in ix.NO_MODEL_STEP), (
            f"{rule}: cited by {by_rule.get(rule)} and listed as having no model step"
            if cited else f"{rule}: no model function cites it and no reason is given")
    assert set(ix.NO_MODEL_STEP) <= set(RULES), "a rule without model step is not in SPEC"


def test_every_rule_a_model_docstring_cites_exists() -> None:
    for fn, ids in ix.model_functions().items():
        for rule in ids:
            assert rule in RULES, f"{fn} cites {rule}, which SPEC.md does not define"


def test_every_model_function_starts_with_its_rule_ids() -> None:
    functions = ix.model_functions()
    assert len(functions) >= 60
    missing = [fn for fn, ids in functions.items() if not ids]
    assert missing == [], f"docstrings that do not start with a rule id: {missing}"


def test_the_rule_index_is_current_and_resolves() -> None:
    assert ix.RULES.read_text(encoding="utf-8") == ix.rules_table(SPEC_TEXT), (
        f"reference/RULES.md is stale; {REGENERATE}")
    for rule, names in ix.TRACKER_CODE.items():
        assert rule in RULES, rule
        for name in names.split(", "):
            ix.tracker_code(name)  # raises LookupError if the code moved


def test_an_unknown_tracker_name_is_reported() -> None:
    with pytest.raises(LookupError, match="no_such_method"):
        ix.tracker_code("no_such_method")
    with pytest.raises(LookupError, match=r"Tracker\.nothing"):
        ix.tracker_code("Tracker.nothing")
