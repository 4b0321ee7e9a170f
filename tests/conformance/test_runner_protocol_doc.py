"""PROTOCOL.md stays true: its example exchange is what the reference adapter
really answers, every message in it matches the protocol schema, and it
documents every step op and every feature."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources

import jsonschema

from privtrak.conformance import FEATURES, protocol_schema, schema_registry
from privtrak.conformance._steps import OPS


def protocol_doc() -> str:
    return resources.files("privtrak.conformance").joinpath("PROTOCOL.md").read_text("utf-8")


def example_lines() -> list[str]:
    section = protocol_doc().split("## 7. A full example exchange", 1)[1]
    block = section.split("```", 2)[1]
    return [line for line in block.splitlines() if line.startswith(("->", "<-"))]


def test_the_example_exchange_is_what_the_reference_adapter_answers() -> None:
    lines = example_lines()
    sent = [line[3:] for line in lines if line.startswith("->")]
    expected = [json.loads(line[3:]) for line in lines if line.startswith("<-")]
    assert sent[0] == '{"type":"hello","protocol":2}' and json.loads(sent[-1]) == {"type": "bye"}
    proc = subprocess.run([sys.executable, "-m", "privtrak", "adapter"],
                          input="\n".join(sent) + "\n", capture_output=True, text=True,
                          timeout=60, check=True)
    assert [json.loads(line) for line in proc.stdout.splitlines()] == expected


def test_every_example_message_matches_the_protocol_schema() -> None:
    validator = jsonschema.Draft202012Validator(protocol_schema(), registry=schema_registry())
    for line in example_lines():
        message = json.loads(line[3:])
        assert validator.is_valid(message), line
    assert not validator.is_valid({"type": "hello", "protocol": 1})


def test_every_op_and_feature_is_documented() -> None:
    doc = protocol_doc()
    for op in OPS:
        assert re.search(rf'"op": "{op}"', doc), op
    for feature in FEATURES:
        assert f"`{feature}`" in doc, feature
