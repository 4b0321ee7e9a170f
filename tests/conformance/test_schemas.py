"""The three packaged schemas: shared definitions, offline references, and the
fast inlined form that agrees with the referencing one."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest

from privtrak.conformance import (
    common_schema,
    packaged_vector_files,
    protocol_schema,
    schema_registry,
    vector_schema,
)
from privtrak.conformance._schemas import (
    SCHEMA_FILES,
    definition_validator,
    inlined_schema,
    load_schema,
)

BASE = "https://privtrak.invalid/conformance/"


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def first_case() -> dict[str, Any]:
    doc = json.loads(packaged_vector_files()[0].read_text(encoding="utf-8"))
    case: dict[str, Any] = doc["cases"][0]
    return case


def test_the_three_files_are_packaged_valid_and_under_one_base() -> None:
    folder = resources.files("privtrak.conformance").joinpath("schema")
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".json")) == sorted(
        SCHEMA_FILES)
    for name in SCHEMA_FILES:
        schema = load_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == BASE + name
    with pytest.raises(ValueError, match=r"'nope\.json'"):
        load_schema("nope.json")


def test_every_reference_resolves_offline_and_only_to_what_exists() -> None:
    resolver = schema_registry().resolver()
    for name in SCHEMA_FILES:
        for ref in refs(load_schema(name)):
            target = re.fullmatch(r"(common\.schema\.json)?#/\$defs/(\w+)", ref)
            assert target, f"{name}: unexpected $ref {ref!r}"
            document = load_schema(target.group(1) or name)
            assert target.group(2) in document["$defs"], f"{name}: {ref} has no target"
            resolver.lookup(BASE + (target.group(1) or name) + "#/$defs/" + target.group(2))


def test_the_shared_parts_are_not_restated() -> None:
    shared = set(common_schema()["$defs"])
    for schema in (protocol_schema(), vector_schema()):
        for name, definition in schema["$defs"].items():
            # a local definition with a shared name must be a refinement of it
            if name in shared:
                assert definition.get("$ref") == f"common.schema.json#/$defs/{name}", name
    assert {"config", "record", "request", "step", "hex16", "dec"} <= shared


def test_the_vector_files_refine_batch_and_entry() -> None:
    delivery = {"batch": {"batch_id": 0, "shard": None, "sealed_at": 0, "records": []},
                "outcome": "ok"}
    entry = {"user": "00" * 16, "info_hash": "11" * 20, "peer_id": None, "uploaded": "0",
             "downloaded": "0", "last_seen": 0, "completed": False, "extra": 1}
    # the protocol: any batch id (compared only with feature batch_ids), extra keys ignored
    assert definition_validator("protocol.schema.json", "observation_deliver").is_valid(
        {"deliveries": [delivery]})
    state = {"users": 1, "entries": [entry], "pending_records": 0, "next_deadline": None}
    assert definition_validator("protocol.schema.json", "observation_state").is_valid(state)
    # the vector files: the reference's ids (from 1), no extra keys
    vector = definition_validator("vector.schema.json", "observation_deliver")
    assert not vector.is_valid({"deliveries": [delivery]})
    assert vector.is_valid({"deliveries": [{**delivery, "batch": {**delivery["batch"],
                                                                   "batch_id": 1}}]})
    assert not definition_validator("vector.schema.json", "entry").is_valid(entry)
    del entry["extra"]
    assert definition_validator("vector.schema.json", "entry").is_valid(entry)


def mutants(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Small corruptions of one case, each invalid for some definition."""
    out = []
    for path, value in [(("config", "batch_scope"), "nope"), (("config", "batch_size"), 0),
                        (("start",), -1), (("allow_list",), ["XYZ"]), (("preset",), "other"),
                        (("steps", 0, "step", "op"), "jump"), (("config", "extra"), 1)]:
        bad = copy.deepcopy(case)
        node: Any = bad
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        out.append(bad)
    return out


def test_the_inlined_schema_agrees_with_the_referencing_one() -> None:
    referencing = jsonschema.Draft202012Validator(vector_schema(), registry=schema_registry())
    inlined = jsonschema.Draft202012Validator(inlined_schema("vector.schema.json"))
    assert "$ref" not in json.dumps(inlined.schema)
    case = first_case()
    docs = [{"format": "privtrak-vectors", "version": 2, "group": "g", "cases": [c]}
            for c in [case, *mutants(case)]]
    verdicts = [(referencing.is_valid(d), inlined.is_valid(d)) for d in docs]
    assert verdicts[0] == (True, True)
    assert verdicts[1:] == [(False, False)] * (len(docs) - 1)


def test_an_unknown_definition_is_named() -> None:
    with pytest.raises(KeyError, match="'observation_jump'"):
        definition_validator("protocol.schema.json", "observation_jump")


def test_every_message_of_a_run_matches_the_protocol_schema(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Both directions, over the packaged seed rule cases run against the reference adapter."""
    from conform_helpers import REFERENCE, conform  # noqa: PLC0415 (tests folder on sys.path)

    from privtrak.conformance._process import AdapterProcess  # noqa: PLC0415

    messages: list[Any] = []
    send, receive = AdapterProcess.send, AdapterProcess.receive

    def sending(self: AdapterProcess, message: Any) -> None:
        messages.append(message)
        send(self, message)

    def receiving(self: AdapterProcess, timeout: float) -> dict[str, Any]:
        reply = receive(self, timeout)
        messages.append(reply)
        return reply

    monkeypatch.setattr(AdapterProcess, "send", sending)
    monkeypatch.setattr(AdapterProcess, "receive", receiving)
    assert conform("--adapter", REFERENCE, "--case", "seed/R*") == 0, capsys.readouterr().out
    validator = jsonschema.Draft202012Validator(protocol_schema(), registry=schema_registry())
    kinds = {m.get("type") for m in messages}
    assert {"hello", "reset", "ready", "step", "observation", "bye"} <= kinds
    for message in messages:
        errors = list(validator.iter_errors(message))
        assert not errors, (message, errors[0].message)


def test_the_ledger_is_complete_in_vectors_and_may_be_partial_on_the_wire() -> None:
    from privtrak.conformance._steps import LEDGER_KEYS  # noqa: PLC0415

    ledger = common_schema()["$defs"]["ledger"]
    assert tuple(ledger["properties"]) == LEDGER_KEYS
    assert tuple(common_schema()["$defs"]["ledger_complete"]["required"]) == LEDGER_KEYS
    full = dict.fromkeys(LEDGER_KEYS, "0")
    state = {"users": 0, "entries": [], "pending_records": 0, "next_deadline": None}
    vector = definition_validator("vector.schema.json", "observation_state")
    wire = definition_validator("protocol.schema.json", "observation_state")
    assert vector.is_valid({**state, "ledger": full}) and wire.is_valid({**state, "ledger": full})
    partial = {k: v for k, v in full.items() if k != "pending_up"}
    assert wire.is_valid({**state, "ledger": partial})
    assert not vector.is_valid({**state, "ledger": partial})
    assert not vector.is_valid({**state, "ledger": {**full, "bonus_up": "0"}})
    assert not wire.is_valid({**state, "ledger": {**full, "credited_up": 5}})
