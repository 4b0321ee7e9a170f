"""One hop from each rule to its prose, model, fast code and tests.

This module reads SPEC.md's rule headings, the rule ids each normative
model function's docstring starts with, and the rule ids each test file
cites, and builds two things from them:

* the ``Model:`` pointer line under each rule heading of SPEC.md;
* the index table of ``reference/RULES.md`` (rule -> prose anchor -> model
  functions -> Tracker code -> test files).

``test_model_rules.py`` checks that both are what this module generates, so
neither can go stale. Regenerate them with::

    python tests/reference/rule_index.py --write
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "reference" / "SPEC.md"
RULES = ROOT / "reference" / "RULES.md"
TESTS = ROOT / "tests"

MODEL_MODULES = ("announce", "batches", "purge", "driver", "views", "clock", "state",
                 "snapshot")
"""The normative model's modules, in reading order (privtrak.reference.model.*)."""

HEADING = re.compile(r"^### ((?:R|G)\d+(?:\.\d+)?) (.*)$", re.M)
RULE_ID = r"(?:R|G)\d+(?:\.\d+)?"
LEADING_IDS = re.compile(rf"^({RULE_ID}(?:(?:, | and ){RULE_ID})*)\b")
CITED = re.compile(rf"(?<![\w.])({RULE_ID})(?![\d])")
POINTER = re.compile(r"^Model: .*$", re.M)

NO_MODEL_STEP: dict[str, str] = {
    "R9.3": "malformed values are refused when the public value types are built, before "
            "any call reaches the model (`privtrak.reference.AnnounceRequest`)",
    "R10": "configuration is parsed before a model exists (`privtrak.reference.parse_config`)",
    "R10.1": "configuration is parsed before a model exists "
             "(`privtrak.reference.parse_go_duration`)",
    "R10.2": "configuration is parsed before a model exists (`privtrak.reference.parse_config`)",
    "R10.3": "configuration is parsed before a model exists (`privtrak.reference.parse_config`)",
    "R10.4": "configuration is parsed before a model exists "
             "(`privtrak.reference.config_to_mapping`)",
    "G1": "a known gap: nothing is specified to model",
    "G2": "a known gap: IP and port are carried, never used",
}
"""Rules with no step in the model, each with the reason."""

TRACKER_CODE: dict[str, str] = {
    "R0": "check_time", "R1": "announce", "R1.1": "PasskeyIdentifier.identify",
    "R1.2": "PasskeyIdentifier.identify", "R2.1": "announce", "R2.2": "entries, entry",
    "R2.3": "shard_of", "R3": "announce", "R3.1": "announce", "R3.2": "announce",
    "R3.3": "announce", "R3.4": "announce, ledger", "R4.1": "announce", "R4.2": "announce",
    "R5.1": "announce", "R5.2": "announce", "R5.3": "announce",
    "R6.1": "announce, _seal_full, _drop_entry", "R6.2": "next_batch, collect_garbage",
    "R6.3": "_seal_full", "R6.4": "next_batch, batch_succeeded",
    "R6.5": "batch_failed, _backoff", "R6.6": "batch_failed", "R6.7": "announce, _purge_user",
    "R6.8": "buffered_records", "R7": "collect_garbage, _purge_user",
    "R7.1": "announce, _purge_user", "R7.2": "announce", "R7.3": "_announce_panic, _gc_panic",
    "R7.4": "_drop_entry", "R8": "stop, close", "R8.1": "announce", "R8.2": "close",
    "R8.3": "reoffer_in_flight", "R9.1": "wrap_int64", "R9.2": "announce",
    "R11": "ledger", "R11.1": "ledger", "R12": "metrics",
}
"""Where each rule's fast code is: ``Tracker`` methods, ``Class.method`` of
``privtrak.reference``, or functions of its private modules (resolved by
:func:`tracker_code`); other rules have no Tracker code (R9.3, R10.x: value
types and ``_config``; G*: gaps)."""


def tracker_code(name: str) -> str:
    """Where ``name`` of :data:`TRACKER_CODE` is, as a markdown link to the
    file that defines it (relative to ``reference/``): ``Tracker.<method>``
    (in whichever module of the split class defines it), ``<Class>.<method>``
    of ``privtrak.reference``, or ``<module>.<function>`` of the reference's
    private modules; ``LookupError`` if it is nowhere."""
    import privtrak.reference as ref  # noqa: PLC0415

    owner, _, attr = name.rpartition(".")
    if owner:
        cls = getattr(ref, owner, None)
        if not hasattr(cls, attr):
            raise LookupError(f"{name} is not in privtrak.reference")
        return _linked(name, getattr(cls, attr))
    if hasattr(ref.Tracker, name):
        return _linked(f"Tracker.{name}", inspect.getattr_static(ref.Tracker, name))
    for path in sorted((ROOT / "reference").glob("_*.py")):
        module = importlib.import_module(f"privtrak.reference.{path.stem}")
        fn = getattr(module, name, None)
        if inspect.isfunction(fn) and fn.__module__ == module.__name__:
            return _linked(f"{path.stem}.{name}", fn)
    raise LookupError(f"{name} is neither a Tracker attribute nor a function of "
                      "privtrak.reference._*")


def _linked(label: str, obj: object) -> str:
    """``[`label`](file.py)`` for the reference module that defines ``obj``."""
    target = obj.fget if isinstance(obj, property) else obj
    target = getattr(target, "__func__", target)
    module = inspect.getmodule(target)
    if module is None or module.__file__ is None:
        raise LookupError(f"{label}: no defining module")
    return f"[`{label}`]({Path(module.__file__).name})"


def spec_rules(text: str) -> dict[str, str]:
    """Rule id -> heading title, in SPEC order."""
    return {m.group(1): m.group(2) for m in HEADING.finditer(text)}


def anchor(rule: str, title: str) -> str:
    """The GitHub anchor of ``### <rule> <title>``."""
    words = f"{rule} {title}".lower()
    words = re.sub(r"[^\w\- ]", "", words)
    return "#" + words.replace(" ", "-")


def model_modules() -> list[ModuleType]:
    return [importlib.import_module(f"privtrak.reference.model.{name}")
            for name in MODEL_MODULES]


def model_functions() -> dict[str, list[str]]:
    """Dotted function name -> the rule ids its docstring starts with (every
    public module-level function of the model's modules)."""
    out: dict[str, list[str]] = {}
    for module in model_modules():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            doc = inspect.getdoc(fn) or ""
            found = LEADING_IDS.match(doc)
            ids = re.findall(RULE_ID, found.group(1)) if found else []
            out[f"{module.__name__}.{name}"] = ids
    return out


def functions_by_rule() -> dict[str, list[str]]:
    by_rule: dict[str, list[str]] = {}
    for fn, ids in model_functions().items():
        for rule in ids:
            by_rule.setdefault(rule, []).append(fn)
    return by_rule


def tests_by_rule() -> dict[str, list[str]]:
    """Rule id -> test files (relative to the repository) that cite it."""
    out: dict[str, set[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        for rule in set(CITED.findall(path.read_text(encoding="utf-8"))):
            out.setdefault(rule, set()).add(path.relative_to(ROOT).as_posix())
    return {rule: sorted(files) for rule, files in out.items()}


def short(fn: str) -> str:
    return fn.removeprefix("privtrak.reference.model.")


def primary_functions(rule: str) -> list[str]:
    """The model functions whose docstring cites ``rule`` first, or, if none
    does, every function that cites it."""
    cited = model_functions()
    first = [fn for fn, ids in cited.items() if ids and ids[0] == rule]
    return sorted(first or [fn for fn, ids in cited.items() if rule in ids], key=short)


def pointer_line(rule: str) -> str:
    """The ``Model:`` line under a rule heading: the functions that implement
    it first of all (RULES.md lists every one that cites it)."""
    if rule in NO_MODEL_STEP:
        return f"Model: none; {NO_MODEL_STEP[rule]}."
    return "Model: " + ", ".join(f"`{short(fn)}`" for fn in primary_functions(rule)) + "."


def spec_with_pointers(text: str) -> str:
    """SPEC.md with a ``Model:`` line (replaced or added) under every rule heading."""
    text = re.sub(r"\n\nModel: [^\n]*(?:\n(?!\n)[^\n]*)*(?=\n\n)", "", text)
    return HEADING.sub(lambda m: f"{m.group(0)}\n\n{pointer_line(m.group(1))}", text)


def rules_table(spec_text: str) -> str:
    """The whole of ``reference/RULES.md``."""
    by_rule = functions_by_rule()
    tests = tests_by_rule()
    lines = [
        "# Rule index",
        "",
        "Generated by `python tests/reference/rule_index.py --write`; "
        "`tests/reference/test_model_rules.py` checks it is current.",
        "",
        "One hop from each rule of [SPEC.md](SPEC.md) to its prose, its step in the",
        "normative model (`privtrak.reference.model`, read it for what the rule",
        "means), its fast code in `privtrak.reference` (`Tracker` methods, or",
        "functions of the private modules) and the test files that cite it.",
        "",
        "| rule | model | Tracker | tests |",
        "|---|---|---|---|",
    ]
    for rule, title in spec_rules(spec_text).items():
        model = ("none" if rule in NO_MODEL_STEP
                 else "<br>".join(f"[`{short(fn)}`](model/{short(fn).split('.')[0]}.py)"
                                  for fn in sorted(by_rule.get(rule, []), key=short)))
        tracker = "<br>".join(tracker_code(n)
                              for n in TRACKER_CODE.get(rule, "").split(", ") if n)
        cited = "<br>".join(f"[{Path(f).name}](../{f})" for f in tests.get(rule, []))
        lines.append(f"| [{rule}](SPEC.md{anchor(rule, title)}) {title} | {model} | "
                     f"{tracker or 'none'} | {cited or 'none'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    spec_text = SPEC.read_text(encoding="utf-8")
    new_spec = spec_with_pointers(spec_text)
    new_rules = rules_table(new_spec)
    if argv[1:] == ["--write"]:
        SPEC.write_text(new_spec, encoding="utf-8")
        RULES.write_text(new_rules, encoding="utf-8")
        return 0
    stale = [p.name for p, new in ((SPEC, new_spec), (RULES, new_rules))
             if not p.exists() or p.read_text(encoding="utf-8") != new]
    print("stale: " + ", ".join(stale) if stale else "current")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
