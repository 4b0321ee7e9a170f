"""Shared helpers for the runner and mutant tests (imported by path-less name:
pytest puts this folder on sys.path because tests have no __init__.py)."""

from __future__ import annotations

import shlex
import sys
from functools import cache
from pathlib import Path

from privtrak.cli import main
from privtrak.conformance import Case, dumps_file, load_file, packaged_vector_files

HERE = Path(__file__).resolve().parent
REFERENCE = f"{shlex.quote(sys.executable)} -m privtrak adapter"


def fake(mode: str) -> str:
    """The command of the misbehaving test adapter in ``mode``."""
    script = HERE / "conform_fake_adapter.py"
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {mode}"


def conform(*args: str) -> int:
    """Run ``privtrak conform ARGS`` in process, without a progress bar."""
    return main(["conform", "--no-progress", *args])


@cache
def packaged_cases() -> tuple[Case, ...]:
    """Every packaged case, loaded once per test process."""
    return tuple(c for p in packaged_vector_files() for c in load_file(p).cases)


def small_vector_file(directory: Path, ids: tuple[str, ...]) -> Path:
    """A vector file holding only the packaged cases ``ids`` (loading all the
    packaged files costs seconds; most runner tests need two cases)."""
    wanted = [c for c in packaged_cases() if c.id in ids]
    assert len(wanted) == len(ids), [c.id for c in wanted]
    path = directory / "small.json"
    path.write_text(dumps_file("small", wanted), encoding="utf-8")
    return path
