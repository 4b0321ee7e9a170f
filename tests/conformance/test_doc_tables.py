"""Every restatement of the configuration keys agrees with the code.

The source is ``reference/_policy.py`` (fields, values, presets, rules) and
``default_config`` (numeric defaults). Restated in: SPEC.md section 1 (the
policy table) and R10 (numeric keys), PROTOCOL.md section 4 (every key of
CONFIG) and ``schema/common.schema.json`` (the config both other schemas
refer to). Each table is parsed here on its own terms (durations as Go
text, ``off``, booleans) and compared key by key; a drifted row fails naming
its key. ``python -m privtrak.conformance.doc_tables --write`` rewrites
the markdown tables from the code.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from privtrak.conformance import common_schema, protocol_schema, schema_registry, vector_schema
from privtrak.conformance.doc_tables import (
    NUMERIC_KEYS,
    PROTOCOL_CONFIG,
    SPEC_NUMERIC,
    SPEC_POLICY,
    TABLES,
    Table,
    main,
    parse_table,
    rewrite,
)
from privtrak.reference import PRESETS, config_to_mapping, default_config, parse_go_duration
from privtrak.reference import _policy as policy_module
from privtrak.reference._config import KNOWN_KEYS
from privtrak.reference._policy import POLICY_FIELDS, POLICY_RULES

ROOT = Path(__file__).resolve().parents[2]
DOCS = {"spec": ROOT / "reference" / "SPEC.md", "protocol": ROOT / "conformance" / "PROTOCOL.md"}
FIX = "(python -m privtrak.conformance.doc_tables --write rewrites the tables from the code)"
COUNT_KEYS = ("batch_size", "shard_count", "max_pending")


def allowed(name: str) -> list[Any]:
    """The values of policy field ``name``, straight from the dataclass annotation."""
    value = getattr(PRESETS["seed"], name)
    if isinstance(value, bool):
        return [False, True]
    assert isinstance(value, enum.Enum)
    return [m.value for m in type(value)]


def default(preset: str, key: str) -> Any:
    config = default_config(preset)
    if key == "preset":
        return config.preset
    if key in POLICY_FIELDS:
        value = getattr(config.policy, key)
        return value if isinstance(value, bool) else value.value
    return getattr(config, key)


def unquote(cell: str) -> str:
    return cell.strip().strip("`").strip('"')


def policy_word(cell: str) -> Any:
    word = unquote(cell)
    return {"true": True, "false": False}.get(word, word)


def value_list(cell: str) -> list[Any]:
    if cell == "bool":
        return [False, True]
    return [policy_word(part) for part in cell.split(", ")]


def spec_number(key: str, cell: str) -> Any:
    if cell == "off":
        return None
    if key in COUNT_KEYS:
        return int(cell)
    seconds = parse_go_duration(key, cell)
    return float(seconds) if key == "prometheus_reporting_interval" else int(seconds)


def protocol_number(key: str, cell: str) -> Any:
    if unquote(cell) == "off":
        return None
    return float(cell) if key == "prometheus_reporting_interval" else int(cell)


def drift(table: Table, text: str) -> list[str]:
    """Every way ``table`` in ``text`` disagrees with the code, each naming its key."""
    found: dict[str, tuple[str, ...]] = {}
    problems: list[str] = []
    for row in parse_table(text, table):
        key = unquote(row[0])
        if len(row) != len(table.header):
            problems.append(f"{table.name}, key {key!r}: {len(row)} cells, "
                            f"expected {len(table.header)}")
            continue
        found[key] = row
    if table is SPEC_POLICY:
        keys: tuple[str, ...] = POLICY_FIELDS
    elif table is SPEC_NUMERIC:
        keys = NUMERIC_KEYS
    else:
        keys = ("preset", *NUMERIC_KEYS, *POLICY_FIELDS)
    problems += [f"{table.name}: key {k!r} is missing" for k in keys if k not in found]
    problems += [f"{table.name}: key {k!r} is not a configuration key of the code"
                 for k in found if k not in keys]
    for key, row in found.items():
        if key not in keys:
            continue
        checks: list[tuple[str, Any, Any]] = []
        if table is SPEC_POLICY:
            checks = [("values", value_list(row[1]), allowed(key)),
                      ("seed", policy_word(row[2]), default("seed", key)),
                      ("recommended", policy_word(row[3]), default("recommended", key)),
                      ("rule", row[4], POLICY_RULES[key])]
        elif table is SPEC_NUMERIC:
            checks = [(p, spec_number(key, row[i]), default(p, key))
                      for i, p in ((1, "seed"), (2, "recommended"))]
        elif key in NUMERIC_KEYS:
            checks = [(p, protocol_number(key, row[i]), default(p, key))
                      for i, p in ((2, "seed"), (3, "recommended"))]
        else:
            expected_values = list(PRESETS) if key == "preset" else allowed(key)
            checks = [("values", value_list(row[1]), expected_values),
                      ("seed", policy_word(row[2]), default("seed", key)),
                      ("recommended", policy_word(row[3]), default("recommended", key))]
        problems += [f"{table.name}, key {key!r}: {column} says {said!r}, the code says {truth!r}"
                     for column, said, truth in checks if said != truth]
    return problems


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_each_markdown_table_matches_the_code(table: Table) -> None:
    problems = drift(table, DOCS[table.doc].read_text(encoding="utf-8"))
    assert not problems, "\n".join([*problems, FIX])


def test_a_drifted_row_fails_naming_its_key() -> None:
    text = DOCS["spec"].read_text(encoding="utf-8")
    drifted = text.replace("| `counter_decrease` | `negative_delta`, `reset` | `negative_delta` |",
                           "| `counter_decrease` | `negative_delta`, `reset` | `reset` |")
    assert drifted != text
    assert drift(SPEC_POLICY, drifted) == [
        "SPEC.md policy table, key 'counter_decrease': seed says 'reset', "
        "the code says 'negative_delta'"]
    no_row = re.sub(r"^\| `peer_lifetime` .*\n", "", text, flags=re.MULTILINE)
    assert drift(SPEC_NUMERIC, no_row) == ["SPEC.md R10 table: key 'peer_lifetime' is missing"]
    protocol = DOCS["protocol"].read_text(encoding="utf-8")
    longer = protocol.replace("| `stop_entries` | `forget`, `keep` |",
                              "| `stop_entries` | `forget`, `keep`, `archive` |")
    assert drift(PROTOCOL_CONFIG, longer) == [
        "PROTOCOL.md CONFIG table, key 'stop_entries': values says "
        "['forget', 'keep', 'archive'], the code says ['forget', 'keep']"]


def test_the_rules_named_exist_and_match_the_value_docstrings() -> None:
    assert tuple(POLICY_RULES) == POLICY_FIELDS
    headings = set(re.findall(r"^### (R[\d.]+)\b", DOCS["spec"].read_text("utf-8"), re.MULTILINE))
    for name, rule in POLICY_RULES.items():
        assert rule in headings, name
        value = getattr(PRESETS["seed"], name)
        if isinstance(value, enum.Enum):
            doc = type(value).__doc__ or ""
            assert doc.startswith(f"{rule}:"), f"{name}: {type(value).__name__} cites {doc[:6]}"
    assert policy_module.policy_values("stop_entries") == ("forget", "keep")
    with pytest.raises(KeyError, match="'no_such_field'"):
        policy_module.policy_values("no_such_field")


def test_the_rendered_tables_are_the_documented_ones() -> None:
    for doc, path in DOCS.items():
        text = path.read_text(encoding="utf-8")
        assert rewrite(text, [t for t in TABLES if t.doc == doc]) == text, f"{path.name} {FIX}"


def test_the_command_reports_drift_and_write_fixes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "SPEC.md"
    protocol = tmp_path / "PROTOCOL.md"
    spec.write_text(DOCS["spec"].read_text("utf-8").replace(
        "| `batch_size` | 1024 | 1024 | records |", "| `batch_size` | 512 | 1024 | records |"),
        encoding="utf-8")
    protocol.write_text(DOCS["protocol"].read_text("utf-8"), encoding="utf-8")
    args = ["--spec", str(spec), "--protocol", str(protocol)]
    assert main(args) == 1
    assert capsys.readouterr().out == f"{spec}: does not match the code: SPEC.md R10 table; " \
        "run with --write to rewrite\n"
    assert main([*args, "--write"]) == 0
    assert capsys.readouterr().out == f"{spec}: rewrote SPEC.md R10 table\n"
    assert spec.read_text("utf-8") == DOCS["spec"].read_text("utf-8")
    assert main(args) == 0
    spec.write_text("no tables here\n", encoding="utf-8")
    assert main(args) == 2
    assert "header row" in capsys.readouterr().err
    assert main(["--spec", str(tmp_path / "missing.md"), "--protocol", str(protocol)]) == 2
    assert "run from the root of a checkout" in capsys.readouterr().err


# -- the JSON schemas ----------------------------------------------------------


def config_schema() -> dict[str, Any]:
    config: dict[str, Any] = common_schema()["$defs"]["config"]
    return config


def test_the_shared_config_schema_matches_the_code() -> None:
    config = config_schema()
    props = config["properties"]
    assert set(props) == KNOWN_KEYS, sorted(set(props) ^ KNOWN_KEYS)
    assert set(config["required"]) == KNOWN_KEYS, sorted(set(config["required"]) ^ KNOWN_KEYS)
    assert config["additionalProperties"] is False
    assert common_schema()["$defs"]["preset"]["enum"] == list(PRESETS)
    for name in POLICY_FIELDS:
        expected = allowed(name)
        if expected == [False, True]:
            assert props[name] == {"type": "boolean"}, name
        else:
            assert props[name] == {"enum": expected}, name
    for key in NUMERIC_KEYS:
        schema = props[key]
        if key in ("max_batch_age", "max_pending"):
            assert {"const": "off"} in schema["anyOf"], key
            schema = next(s for s in schema["anyOf"] if s != {"const": "off"})
        kind = "number" if key == "prometheus_reporting_interval" else "integer"
        assert schema["type"] == kind, key


def test_both_schemas_take_their_config_from_the_shared_one() -> None:
    ref = "common.schema.json#/$defs/config"
    assert protocol_schema()["$defs"]["reset"]["properties"]["config"] == {"$ref": ref}
    assert vector_schema()["$defs"]["case"]["properties"]["config"] == {"$ref": ref}
    for name in ("protocol", "vector"):
        assert "config" not in {"protocol": protocol_schema, "vector": vector_schema}[name]()[
            "$defs"], f"{name}.schema.json restates the config"


def config_validator() -> Callable[[Any], list[str]]:
    validator = jsonschema.Draft202012Validator(
        {"$ref": "https://privtrak.invalid/conformance/common.schema.json#/$defs/config"},
        registry=schema_registry())
    return lambda value: [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(value)]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_default_and_every_policy_value_is_valid_config(preset: str) -> None:
    problems = config_validator()
    mapping = config_to_mapping(default_config(preset))
    assert problems(mapping) == []
    for name in POLICY_FIELDS:
        for value in allowed(name):
            assert problems({**mapping, name: value}) == [], (name, value)
        assert problems({**mapping, name: "no_such_value"}) != [], name
    for key in KNOWN_KEYS:
        assert any(repr(key) in p for p in problems(
            {k: v for k, v in mapping.items() if k != key})), key
