"""``privtrak vectors``: regenerate the committed conformance vector files.

Every file is a pure function of the case builders and the reference, so
regenerating gives byte-identical files. ``--check`` compares instead of
writing and exits 1 when a committed file differs (CI runs it), 0 otherwise.
Files in the folder that are not generated here (for example a vector
written by ``privtrak conform fuzz``) are left alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ._cases_defects import defect_cases
from ._cases_go_seed import go_seed_cases
from ._cases_random import random_cases
from ._cases_rules import rule_cases
from ._vectors import Case, dumps_file, packaged_vector_dir

GROUPS: dict[str, Callable[[], list[Case]]] = {
    "seed": lambda: rule_cases("seed"),
    "recommended": lambda: rule_cases("recommended"),
    "defects": defect_cases,
    "go-seed": go_seed_cases,
    "random-seed": lambda: random_cases("seed"),
    "random-recommended": lambda: random_cases("recommended"),
}
"""Group name (and file stem) -> the cases it holds, in file order."""


def render_all() -> dict[str, str]:
    """File name -> canonical text, for every group.

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``privtrak vectors``."""
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="folder to write (default: the package's vectors/ folder)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a file in DIR differs from what "
                             "would be generated")


def run(args: argparse.Namespace) -> int:
    """Generate (or check) the vector files; returns the exit status."""
    out_dir: Path = args.out if args.out is not None else packaged_vector_dir()
    rendered = render_all()
    cases = sum(text.count('\n    {\n') for text in rendered.values())
    if args.check:
        bad = differing(out_dir, rendered)
        for name in bad:
            print(f"privtrak vectors: {out_dir / name} is missing or out of date; run "
                  "`privtrak vectors` and commit the result", file=sys.stderr)
        if not bad:
            print(f"{len(rendered)} vector files ({cases} cases) in {out_dir} are up to date")
        return 1 if bad else 0
    write_all(out_dir, rendered)
    print(f"wrote {len(rendered)} vector files ({cases} cases) to {out_dir}")
    return 0
