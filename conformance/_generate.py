"""The committed conformance vector files, generated from the reference.

Every file is a pure function of the case builders and the reference, so
regenerating gives byte-identical files; with them comes ``SHA256SUMS``,
the digests of exactly those files (see :mod:`._vectors` for its use).
Files in the folder that are not generated here (for example a vector
written by ``privtrak conform fuzz``) are left alone. The command line
(``privtrak vectors``) is in :mod:`.cli`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._cases_defects import defect_cases
from ._cases_gaps import gap_cases
from ._cases_go_seed import go_seed_cases
from ._cases_random import random_cases
from ._cases_rules import rule_cases
from ._cases_scope import scope_cases
from ._vectors import DIGEST_FILE, Case, digest_listing, dumps_file

GROUPS: dict[str, Callable[[], list[Case]]] = {
    "seed": lambda: rule_cases("seed") + scope_cases("seed"),
    "recommended": lambda: rule_cases("recommended") + scope_cases("recommended"),
    "defects": defect_cases,
    "go-seed": go_seed_cases,
    "gaps": gap_cases,
    "random-seed": lambda: random_cases("seed"),
    "random-recommended": lambda: random_cases("recommended"),
}
"""Group name (and file stem) -> the cases it holds, in file order."""


def render_all() -> dict[str, str]:
    """File name -> canonical text, for every group, and the :data:`DIGEST_FILE`
    listing them last.

    Raises ValueError if two cases anywhere share an id.
    """
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for group, build in GROUPS.items():
        cases = build()
        for case in cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} appears in groups {seen[case.id]!r} "
                                 f"and {group!r}")
            seen[case.id] = group
        out[f"{group}.json"] = dumps_file(group, cases)
    out[DIGEST_FILE] = digest_listing({name: text.encode("utf-8")
                                       for name, text in out.items()})
    return out


def differing(out_dir: Path, rendered: dict[str, str]) -> list[str]:
    """Names of the generated files that are missing from ``out_dir`` or differ."""
    bad = []
    for name, text in rendered.items():
        path = out_dir / name
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            bad.append(name)
    return bad


def write_all(out_dir: Path, rendered: dict[str, str]) -> None:
    """Write every generated file into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out_dir / name).write_bytes(text.encode("utf-8"))
