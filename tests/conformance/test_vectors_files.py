"""The shipped vector files: schema, coverage, determinism, replay."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema

from privtrak.conformance import schema_registry, vector_schema
from privtrak.conformance._execute import run_case
from privtrak.conformance._generate import GROUPS, render_all
from privtrak.conformance._steps import GcObservation
from privtrak.conformance._steps_json import (
    decode_observation,
    decode_step,
    encode_observation,
    encode_step,
)
from privtrak.conformance._vectors import (
    FIELD_FEATURES,
    Case,
    Where,
    load_file,
    packaged_vector_files,
)

SPEC = Path(__file__).resolve().parents[2] / "reference" / "SPEC.md"


@cache
def shipped() -> dict[str, list[Case]]:
    """Every shipped file's cases, loaded once (schema and semantic checks)."""
    out: dict[str, list[Case]] = {}
    for path in packaged_vector_files():
        loaded = load_file(path)
        assert loaded.errors == (), [str(e) for e in loaded.errors[:3]]
        out[path.name] = list(loaded.cases)
    return out


def all_cases() -> list[Case]:
    return [c for cases in shipped().values() for c in cases]


def spec_rule_ids() -> set[str]:
    return set(re.findall(r"^### (R\d+(?:\.\d+)*)\b", SPEC.read_text(encoding="utf-8"),
                          re.MULTILINE))


def test_every_group_is_shipped_and_valid() -> None:
    assert sorted(shipped()) == sorted(f"{g}.json" for g in GROUPS)
    for name, cases in shipped().items():
        assert cases, f"{name} holds no case"


def test_at_least_200_cases_with_unique_ids() -> None:
    ids = [c.id for c in all_cases()]
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)


def test_the_schema_is_valid_draft_2020_12() -> None:
    # Its config and policy enums live in common.schema.json, checked against
    # the code by test_doc_tables.py.
    schema = vector_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_file_validates_with_plain_jsonschema() -> None:
    # Independent of the loader: the unmodified schema, straight from the package.
    validator = jsonschema.Draft202012Validator(vector_schema(), registry=schema_registry())
    for path in packaged_vector_files():
        doc = json.loads(path.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(doc))
        assert not errors, f"{path.name}: {errors[0].message}"
        break  # one file suffices here; test_vectors_digest.py checks all through the loader


def test_every_spec_rule_is_covered() -> None:
    spec = spec_rule_ids()
    assert len(spec) >= 30, "SPEC.md headings not found"
    covered = {r for c in all_cases() for r in c.rules}
    assert spec - covered == set()
    assert covered - spec == set(), "vectors name rules SPEC.md does not define"


def test_every_defect_is_covered_under_both_presets() -> None:
    for preset in ("seed", "recommended"):
        covered = {d for c in all_cases() if c.preset == preset for d in c.defects}
        assert covered == set(range(1, 14)), preset


def test_every_rule_has_a_hand_written_case_for_both_presets() -> None:
    hand = [c for c in all_cases() if not c.id.startswith("random/")]
    for preset in ("seed", "recommended"):
        covered = {r for c in hand if c.preset == preset for r in c.rules}
        assert spec_rule_ids() - covered == set(), preset


def test_regenerating_gives_byte_identical_files() -> None:
    rendered = render_all()
    for path in packaged_vector_files():
        assert rendered[path.name].encode("utf-8") == path.read_bytes(), path.name
    assert render_all() == rendered


def test_files_are_canonical_text() -> None:
    for path in packaged_vector_files():
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert text.isascii()
        assert "\t" not in text


def test_every_case_replays_to_its_expectations() -> None:
    for case in all_cases():
        observed = run_case(case)
        expected = [s.expect for s in case.steps]
        for index, (got, want) in enumerate(zip(observed, expected, strict=True)):
            assert got == want, f"{case.id} step {index}"


def test_wire_forms_round_trip() -> None:
    for case in all_cases():
        for index, s in enumerate(case.steps):
            where = Where("x", case.id, index)
            step_doc = encode_step(s.step)
            assert decode_step(step_doc, where) == s.step
            obs_doc = encode_observation(s.expect)
            assert decode_observation(s.step.op, obs_doc, where) == s.expect


def test_package_data_lists_the_vector_files() -> None:
    names = {p.name for p in resources.files("privtrak.conformance").joinpath(
        "vectors").iterdir() if p.name.endswith(".json")}
    assert {f"{g}.json" for g in GROUPS} <= names


def test_features_follow_from_the_case() -> None:
    for case in all_cases():
        assert f"preset:{case.preset}" in case.features
        has_snapshot = any(s.step.op == "snapshot_restore" for s in case.steps)
        assert ("snapshot" in case.features) == has_snapshot, case.id
        assert ("event_records" in case.features) == case.config.policy.event_records
        # Field features gate fields, never whole cases (PROTOCOL.md section 5).
        assert not set(case.features) & FIELD_FEATURES, case.id


def test_format_document_lists_every_file_with_its_case_count() -> None:
    doc = resources.files("privtrak.conformance").joinpath("VECTORS.md").read_text(
        encoding="utf-8")
    listed = {name: int(n) for name, n in re.findall(r"^\| `vectors/([\w.-]+)` \| (\d+) \|",
                                                     doc, re.MULTILINE)}
    assert listed == {name: len(cases) for name, cases in shipped().items()}


def test_every_case_ends_with_a_state_summary() -> None:
    """...except where the seed's process died in a GC panic (R7.3 abort)."""
    for case in all_cases():
        last = case.steps[-1]
        if last.step.op == "gc":
            assert isinstance(last.expect, GcObservation) and last.expect.seed_would_panic
            assert case.config.policy.expiry_panic.value == "abort", case.id
            continue
        assert last.step.op == "state", case.id


def test_every_spec_rule_has_a_hand_written_case() -> None:
    """Coverage never rests on a random trace: regenerating them cannot lose a rule."""
    spec = resources.files("privtrak.reference").joinpath("SPEC.md").read_text(encoding="utf-8")
    rules = re.findall(r"^### (R[0-9.]+)", spec, re.MULTILINE)
    hand = {r for case in all_cases() if not case.id.startswith("random/") for r in case.rules}
    assert rules and not [r for r in rules if r not in hand]
