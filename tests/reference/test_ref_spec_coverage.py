"""SPEC.md and the tests name the same rules.

Convention: a rule is a SPEC.md heading ``### R<n>[.<m>] Title`` (or
``### G<n> Title`` for a known gap). A test cites rules by opening its
docstring with them: ``\"\"\"R4.1, R4.2 (defect 3): ...\"\"\"``. Every rule must be
cited by some test under tests/, and no test may cite a rule SPEC.md lacks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SPEC = TESTS.parent / "reference" / "SPEC.md"
REFERENCE = TESTS.parent / "reference"

_ID = r"[RG]\d+(?:\.\d+)?"
HEADING = re.compile(rf"^### ({_ID}) \S", re.MULTILINE)
LEADING_IDS = re.compile(rf"^\s*({_ID}(?:\s*,\s*{_ID})*)(?=[\s:(])")
ANY_ID = re.compile(_ID)

# Files whose every test must open with rule IDs (this suite's rule-by-rule files).
RULE_FILES = ("test_ref_types.py", "test_ref_identify.py", "test_ref_announce.py",
              "test_ref_batching.py", "test_ref_purge.py", "test_ref_stop_snapshot.py",
              "test_ref_config.py", "test_ref_ledger.py", "test_ref_seed_defects.py")


def spec_ids() -> list[str]:
    return HEADING.findall(SPEC.read_text(encoding="utf-8"))


def docstrings_of_tests(path: Path) -> list[tuple[str, str | None]]:
    """(test name, docstring) of every test function in ``path``, methods included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.name, ast.get_docstring(node))
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")]


def cited(doc: str | None) -> list[str]:
    """The rule IDs a docstring opens with."""
    if not doc:
        return []
    match = LEADING_IDS.match(doc)
    return ANY_ID.findall(match.group(1)) if match else []


def citations() -> dict[str, list[str]]:
    """rule ID -> tests citing it, over every test file under tests/."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        for name, doc in docstrings_of_tests(path):
            for rule in cited(doc):
                found.setdefault(rule, []).append(f"{path.name}::{name}")
    return found


def test_spec_rule_ids_are_unique_and_well_formed() -> None:
    """SPEC.md's rule headings are unique and include the first and last rule."""
    ids = spec_ids()
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert ids[0] == "R0" and "R12" in ids
    assert len(ids) >= 45


def test_every_rule_is_cited_by_a_test() -> None:
    """Every rule ID of SPEC.md is named by at least one test docstring."""
    found = citations()
    missing = [rule for rule in spec_ids() if rule not in found]
    assert missing == [], f"SPEC.md rules no test cites: {missing}"


def test_no_test_cites_an_unknown_rule() -> None:
    """Tests cite only rule IDs that SPEC.md defines."""
    known = set(spec_ids())
    unknown = {rule: tests for rule, tests in citations().items() if rule not in known}
    assert unknown == {}, f"tests cite rules SPEC.md does not define: {unknown}"


def test_rule_files_cite_rules_in_every_test() -> None:
    """Each test of the rule-by-rule files opens its docstring with rule IDs."""
    here = Path(__file__).resolve().parent
    bare = [f"{name}::{test}" for name in RULE_FILES
            for test, doc in docstrings_of_tests(here / name) if not cited(doc)]
    assert bare == [], f"tests without leading rule IDs: {bare}"


def test_every_seed_defect_has_a_regression_test() -> None:
    """Seed-behaviour.md section 2 lists defects 1 to 13; each is named as
    "(defect N)" by a test of test_ref_seed_defects.py."""
    docs = " ".join(doc or "" for _, doc in docstrings_of_tests(
        Path(__file__).resolve().parent / "test_ref_seed_defects.py"))
    named = {int(n) for n in re.findall(r"\(defect (\d+)\)", docs)}
    assert named == set(range(1, 14))


def test_code_cites_only_spec_rules() -> None:
    """Rule IDs cited in the reference's code and docstrings exist in SPEC.md."""
    known = set(spec_ids())
    unknown = {}
    for path in sorted(REFERENCE.glob("*.py")):
        ids = set(re.findall(r"\bR\d+(?:\.\d+)?\b", path.read_text(encoding="utf-8")))
        if ids - known:
            unknown[path.name] = sorted(ids - known)
    assert unknown == {}
