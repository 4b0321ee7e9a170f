"""The results cache is keyed by everything a run's results depend on,
including the simulator's and the reference's source."""

from __future__ import annotations

from pathlib import Path

import pytest

import privtrak.reference
import privtrak.sim
from privtrak.capacity import _execute
from privtrak.capacity._execute import Run, code_fingerprint, source_fingerprint


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_fingerprint_changes_with_any_source_edit(tmp_path: Path) -> None:
    pkg = _package(tmp_path / "a", {"x.py": "A = 1\n", "sub/y.py": "B = 2\n", "z.txt": "t"})
    before = source_fingerprint({"p": pkg})
    assert source_fingerprint({"p": pkg}) == before
    (pkg / "z.txt").write_text("not source", encoding="utf-8")
    assert source_fingerprint({"p": pkg}) == before  # only *.py counts
    (pkg / "sub/y.py").write_text("B = 3\n", encoding="utf-8")
    edited = source_fingerprint({"p": pkg})
    assert edited != before
    (pkg / "sub/y.py").rename(pkg / "sub/w.py")  # same content, other file name
    assert source_fingerprint({"p": pkg}) != edited
    assert source_fingerprint({"q": pkg}) != source_fingerprint({"p": pkg})


def test_fingerprint_covers_the_simulator_and_the_reference() -> None:
    expected = source_fingerprint({
        "privtrak.sim": Path(privtrak.sim.__file__ or "").parent,
        "privtrak.reference": Path(privtrak.reference.__file__ or "").parent})
    assert code_fingerprint() == expected


def test_run_key_depends_on_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(point=0, replication=0, seed=7, scenario={"duration": 60})
    key = run.key
    assert Run(0, 0, 7, {"duration": 60}).key == key
    assert Run(0, 0, 8, {"duration": 60}).key != key
    monkeypatch.setattr(_execute, "code_fingerprint", lambda: "0" * 64)
    assert run.key != key
