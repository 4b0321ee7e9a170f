"""Packaged vectors are schema-validated here, once, and trusted at run time by
their SHA-256 digest; any other vector file gets the full validation."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import privtrak.conformance._vectors as vectors_module
from privtrak.conformance import load_file, packaged_vector_dir, packaged_vector_files, parse_file
from privtrak.conformance._generate import render_all
from privtrak.conformance._vectors import DIGEST_FILE, packaged_digests


def test_every_packaged_file_passes_the_full_schema_validation() -> None:
    # This is the validation the runner skips for these exact bytes.
    for path in packaged_vector_files():
        loaded = parse_file(path.read_text(encoding="utf-8"), path.name, schema_checked=False)
        assert loaded.errors == (), [str(e) for e in loaded.errors[:3]]
        assert loaded.cases


def test_the_digest_list_names_exactly_the_packaged_bytes() -> None:
    listed = packaged_digests()
    assert sorted(listed) == sorted(p.name for p in packaged_vector_files())
    for path in packaged_vector_files():
        assert listed[path.name] == hashlib.sha256(path.read_bytes()).hexdigest(), path.name
    assert (packaged_vector_dir() / DIGEST_FILE).read_text(encoding="ascii") == (
        render_all()[DIGEST_FILE])


def test_packaged_files_are_loaded_without_the_schema_validator(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_validator() -> None:
        raise AssertionError("the schema validator was used for a trusted file")

    monkeypatch.setattr(vectors_module, "_validator", no_validator)
    path = packaged_vector_files()[0]
    loaded = load_file(path)
    assert loaded.errors == () and loaded.cases


def test_a_copy_elsewhere_or_an_edited_file_is_fully_validated(tmp_path: Path) -> None:
    source = packaged_vector_files()[0]
    copy = tmp_path / source.name  # same name and bytes, but not the packaged file
    shutil.copyfile(source, copy)
    assert not vectors_module._packaged_and_listed(copy, copy.read_bytes())
    doc = json.loads(copy.read_text(encoding="utf-8"))
    doc["cases"][0]["unexpected"] = 1  # only the schema forbids this
    copy.write_text(json.dumps(doc), encoding="utf-8")
    loaded = load_file(copy)
    assert [e.why.startswith("schema:") for e in loaded.errors] == [True]
    edited = source.read_bytes() + b"\n"
    assert not vectors_module._packaged_and_listed(source, edited)
    assert vectors_module._packaged_and_listed(source, source.read_bytes())
