"""Malformed vector files: every error names the file, case, step and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from privtrak.conformance import dumps_file, load_file, load_strict, parse_file
from privtrak.conformance._cases import CaseBuilder
from privtrak.conformance._steps import VectorError, Where
from privtrak.conformance._steps_json import decode_observation, decode_step


def small_doc() -> dict[str, Any]:
    cases = []
    for n, preset in enumerate(("seed", "recommended")):
        c = CaseBuilder(f"t/{preset}/case{n}", preset=preset, rules=["R3"], description="d",
                        config={"shard_count": 1, "batch_size": 1})
        c.announce(0, up=0)
        c.announce(5, up=10)
        c.deliver(6)
        c.state(7)
        cases.append(c.build())
    doc: dict[str, Any] = json.loads(dumps_file("tiny", cases))
    return doc


def write(tmp_path: Path, doc: object, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def only_error(tmp_path: Path, doc: object) -> VectorError:
    loaded = load_file(write(tmp_path, doc))
    assert len(loaded.errors) == 1, [str(e) for e in loaded.errors]
    return loaded.errors[0]


def test_the_small_document_is_valid(tmp_path: Path) -> None:
    loaded = load_file(write(tmp_path, small_doc()))
    assert loaded.errors == ()
    assert [c.id for c in loaded.cases] == ["t/seed/case0", "t/recommended/case1"]


def test_not_json_names_file_and_line(tmp_path: Path) -> None:
    err = only_error(tmp_path, '{"format": "privtrak-vectors",\n  oops}')
    assert err.file is not None and err.file.endswith("bad.json")
    assert "line 2" in err.field and "not JSON" in str(err)


def test_wrong_format_and_version(tmp_path: Path) -> None:
    doc = small_doc()
    doc["format"] = "something-else"
    assert only_error(tmp_path, doc).field == "format"
    doc = small_doc()
    doc["version"] = 1
    err = only_error(tmp_path, doc)
    assert err.field == "version" and "unsupported version 1" in str(err)


def test_schema_error_in_a_step_names_case_step_and_field(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][1]["steps"][1]["step"]["request"]["uploaded"] = 10  # must be a string
    loaded = load_file(write(tmp_path, doc))
    assert [c.id for c in loaded.cases] == ["t/seed/case0"], "the good case survives"
    (err,) = loaded.errors
    assert (err.case, err.step, err.field) == ("t/recommended/case1", 1,
                                               "step.request.uploaded")
    assert str(err).startswith(f"file {err.file}: case 't/recommended/case1': step 1: ")


def test_schema_error_in_an_expectation(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][1]["steps"][2]["expect"]["deliveries"][0]["outcome"] = "maybe"
    err = only_error(tmp_path, doc)
    assert (err.case, err.step) == ("t/recommended/case1", 2)
    assert err.field == "expect.deliveries[0].outcome"


def test_expectation_of_the_wrong_shape(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][0]["steps"][3]["expect"] = {"deliveries": []}  # a state step
    err = only_error(tmp_path, doc)
    assert (err.case, err.step) == ("t/seed/case0", 3)
    assert err.field.startswith("expect")


def test_unknown_op(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][0]["steps"][2]["step"] = {"op": "teleport", "now": 6}
    err = only_error(tmp_path, doc)
    assert (err.case, err.step) == ("t/seed/case0", 2)


def test_time_going_backwards(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][0]["steps"][2]["step"]["now"] = 1
    err = only_error(tmp_path, doc)
    assert (err.case, err.step, err.field) == ("t/seed/case0", 2, "step.now")
    assert "must not decrease: 1 < 5" in str(err)


def test_config_must_match_preset_and_be_complete(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][0]["config"]["preset"] = "recommended"
    err = only_error(tmp_path, doc)
    assert (err.case, err.field) == ("t/seed/case0", "config.preset")
    doc = small_doc()
    doc["cases"][0]["config"]["batch_size"] = 0  # valid YAML, not canonical
    err = only_error(tmp_path, doc)
    assert (err.case, err.step) == ("t/seed/case0", None)
    assert "batch_size" in str(err)
    doc = small_doc()
    doc["cases"][0]["config"]["retry_backoff_max"] = 0
    assert "retry_backoff_max" in str(only_error(tmp_path, doc))


def test_features(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][1]["features"] = ["preset:recommended"]  # event/purge records missing
    err = only_error(tmp_path, doc)
    assert err.field == "features" and "event_records" in str(err)
    doc = small_doc()
    doc["cases"][0]["features"].append("telepathy")
    assert only_error(tmp_path, doc).case == "t/seed/case0"


def test_duplicate_ids(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][1]["id"] = "t/seed/case0"
    doc["cases"][1]["preset"] = "seed"
    doc["cases"][1] = {**doc["cases"][0], "description": "copy"}
    err = only_error(tmp_path, doc)
    assert (err.case, err.field, err.why) == ("t/seed/case0", "id", "duplicate case id")


def test_load_strict_raises_the_first_error(tmp_path: Path) -> None:
    doc = small_doc()
    doc["cases"][0]["rules"] = ["not-a-rule"]
    with pytest.raises(VectorError) as info:
        load_strict(write(tmp_path, doc))
    assert info.value.case == "t/seed/case0" and info.value.field == "rules[0]"


def test_unreadable_file(tmp_path: Path) -> None:
    loaded = load_file(tmp_path / "missing.json")
    assert loaded.cases == () and "cannot read" in str(loaded.errors[0])


def test_decode_step_errors_name_the_field() -> None:
    where = Where("f.json", "c", 4)
    bad = {"op": "announce", "now": 1, "request": {
        "credential": "/x/announce", "info_hash": "AA" * 20, "peer_id": "cc" * 20,
        "uploaded": "1", "downloaded": "0", "left": "0", "event": "none", "ip": "",
        "port": 1}}
    with pytest.raises(VectorError) as info:
        decode_step(bad, where)
    assert (info.value.file, info.value.case, info.value.step) == ("f.json", "c", 4)
    assert info.value.field == "step.request.info_hash"
    for key, value, field in (("uploaded", "01", "uploaded"), ("left", "-1", "left"),
                              ("uploaded", str(2**64), "uploaded"),
                              ("event", "paused", "event"), ("port", 70000, "port")):
        doc = json.loads(json.dumps(bad))
        doc["request"]["info_hash"] = "aa" * 20
        doc["request"][key] = value
        with pytest.raises(VectorError) as info:
            decode_step(doc, where)
        assert info.value.field == f"step.request.{field}", (key, value)
    with pytest.raises(VectorError) as info:
        decode_step({"op": "gc", "now": 1, "extra": 1}, where)
    assert info.value.field == "step.extra"
    with pytest.raises(VectorError) as info:
        decode_step({"op": "handler", "outcomes": ["ok", "later"]}, where)
    assert info.value.field == "step.outcomes[1]"


def test_decode_observation_errors_name_the_field() -> None:
    where = Where(None, "c", 0)
    with pytest.raises(VectorError) as info:
        decode_observation("gc", {"removed_entries": 0, "removed_users": 0,
                                  "seed_would_panic": False, "deliveries": [{}]}, where)
    assert info.value.field == "expect.deliveries"
    with pytest.raises(VectorError) as info:
        decode_observation("state", {"users": 0, "entries": [], "pending_records": 0,
                                     "ledger": {"credited_up": "0"}, "next_deadline": None},
                           where)
    assert info.value.field.startswith("expect.ledger.")
    assert str(info.value).startswith("case 'c': step 0: expect.ledger.")


def test_parse_file_needs_no_disk() -> None:
    text = dumps_file("tiny", [])
    loaded = parse_file(text, "memory.json")
    assert (loaded.group, loaded.cases, loaded.errors) == ("tiny", (), ())
