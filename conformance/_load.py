"""The cases of a run: vector files flattened into sendable cases and errors.

Files are read with :mod:`._vectors` (schema and semantic checks, a bad case
never hides the good ones). Each good case becomes a :class:`LoadedCase`
whose steps and expectations are in wire form, ready to send and compare;
each error becomes a :class:`BrokenCase` naming file, case and step, which
the runner reports as errored before carrying on.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privtrak.reference import config_to_mapping

from ._steps_json import encode_observation, encode_step
from ._vectors import Case as VectorCase
from ._vectors import load_file as load_vector_file

FILE_LABEL = "<file>"
"""The case id a :class:`BrokenCase` carries when the error is not inside one case."""


@dataclass(frozen=True, slots=True)
class LoadedCase:
    """One valid case, ready to send: steps and expectations in wire form."""

    source: str
    case_id: str
    description: str
    rules: tuple[str, ...]
    defects: tuple[int, ...]
    preset: str
    config: dict[str, Any]
    features: frozenset[str]
    start: int
    steps: tuple[dict[str, Any], ...]
    expects: tuple[dict[str, Any], ...]
    allow_list: tuple[str, ...] | None = None
    """R1.2: the user ids (hex) the identifier accepts; ``None``: any."""


@dataclass(frozen=True, slots=True)
class BrokenCase:
    """A case (or a whole file) that could not be loaded, and why."""

    source: str
    case_id: str
    message: str
    step: int | None = None


Case = LoadedCase | BrokenCase


def vector_files(path: Path) -> list[Path]:
    """``path`` itself if it is a file, else the ``*.json`` files in it, sorted."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.json") if p.is_file())


def load_files(paths: Iterable[Path]) -> list[Case]:
    """Every case of every file (file order, then case order), then its errors."""
    cases: list[Case] = []
    for path in paths:
        loaded = load_vector_file(path)
        cases.extend(_wire_case(path.name, c) for c in loaded.cases)
        cases.extend(BrokenCase(path.name, e.case or FILE_LABEL, f"{e.field}: {e.why}", e.step)
                     for e in loaded.errors)
    return cases


def _wire_case(source: str, case: VectorCase) -> LoadedCase:
    return LoadedCase(
        source, case.id, case.description, case.rules, case.defects, case.preset,
        config_to_mapping(case.config), frozenset(case.features), case.start,
        tuple(encode_step(s.step) for s in case.steps),
        tuple(encode_observation(s.expect) for s in case.steps),
        None if case.allow_list is None else tuple(sorted(u.hex() for u in case.allow_list)))


def select(cases: Sequence[Case], *, presets: Sequence[str] = (), globs: Sequence[str] = (),
           rules: Sequence[str] = ()) -> list[Case]:
    """The cases matching every given filter (an empty filter matches all).

    ``globs`` match case ids (see :func:`case_id_matches`); a rule filter
    ``R4`` matches ``R4`` and ``R4.1``. A broken file is always kept; a broken case is kept when
    its id matches the globs and no preset or rule filter is given (its
    preset and rules are unknown), so a filtered run still reports it.
    """
    out: list[Case] = []
    for case in cases:
        if isinstance(case, BrokenCase) and case.case_id == FILE_LABEL:
            out.append(case)  # a broken file is always reported
            continue
        if globs and not any(case_id_matches(case.case_id, g) for g in globs):
            continue
        if isinstance(case, LoadedCase):
            if presets and case.preset not in presets:
                continue
            if rules and not any(_rule_matches(r, f) for r in case.rules for f in rules):
                continue
        elif presets or rules:
            continue
        out.append(case)
    return out


def case_id_matches(case_id: str, glob: str) -> bool:
    """Whether ``glob`` (fnmatch: ``*``, ``?``, ``[...]``) selects ``case_id``.

    Case ids are paths (``defect/1/seed/client-restart``), so a glob also
    selects every id beneath what it matches, the way a folder holds its
    files: ``defect/1`` selects ``defect/1/seed/...`` but not ``defect/10/...``.
    """
    return (fnmatch.fnmatchcase(case_id, glob)
            or fnmatch.fnmatchcase(case_id, glob.rstrip("/") + "/*"))


def _rule_matches(rule: str, wanted: str) -> bool:
    return rule == wanted or rule.startswith(wanted + ".")
