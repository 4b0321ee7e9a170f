"""The packaged JSON Schemas (draft 2020-12) and how to validate against them.

Three files live in ``schema/`` beside this package's source:

* ``common.schema.json``: what the protocol and the vector files share (value
  formats, the configuration and its policy enums, requests, records,
  batches, entries, steps);
* ``protocol.schema.json``: the adapter protocol's messages (PROTOCOL.md);
* ``vector.schema.json``: the vector files (VECTORS.md).

The last two refer to the first with relative ``$ref``s such as
``common.schema.json#/$defs/config``, resolved against their ``$id`` (all
three live under ``https://privtrak.invalid/conformance/``, a name that is
never fetched). :func:`schema_registry` holds the three documents as loaded
from the installed package, so every reference resolves offline; pass it to
any validator built on these schemas::

    jsonschema.Draft202012Validator(vector_schema(), registry=schema_registry())

jsonschema and referencing are imported on first use only, so the adapter
side of the package never loads them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema
    import referencing

SCHEMA_FILES = ("common.schema.json", "protocol.schema.json", "vector.schema.json")
"""The packaged schema files, in the order they depend on each other."""


@cache
def load_schema(file: str) -> dict[str, Any]:
    """The packaged schema ``file`` (one of :data:`SCHEMA_FILES`), parsed.

    Raises ``ValueError`` for any other name. The returned dict is shared:
    do not modify it.
    """
    if file not in SCHEMA_FILES:
        raise ValueError(f"unknown schema file {file!r}; the package has {list(SCHEMA_FILES)}")
    text = resources.files("privtrak.conformance").joinpath(
        "schema", file).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def common_schema() -> dict[str, Any]:
    """``common.schema.json``: the definitions both other schemas refer to."""
    return load_schema("common.schema.json")


def protocol_schema() -> dict[str, Any]:
    """``protocol.schema.json``: every adapter protocol message."""
    return load_schema("protocol.schema.json")


def vector_schema() -> dict[str, Any]:
    """``vector.schema.json``: a vector file."""
    return load_schema("vector.schema.json")


@cache
def schema_registry() -> referencing.Registry[Any]:
    """A ``referencing`` registry holding the three packaged schemas by ``$id``."""
    from referencing import Registry, Resource  # noqa: PLC0415 (validation only)
    from referencing.jsonschema import DRAFT202012  # noqa: PLC0415

    resources_ = [Resource.from_contents(load_schema(f), default_specification=DRAFT202012)
                  for f in SCHEMA_FILES]
    return Registry().with_resources((r.id() or "", r) for r in resources_).crawl()


def definition_validator(file: str, definition: str) -> jsonschema.Draft202012Validator:
    """A validator for ``$defs/<definition>`` of the packaged schema ``file``.

    Raises ``KeyError`` naming the definition when ``file`` has none of that
    name.
    """
    return _definition_validator(file, definition)


@cache
def _definition_validator(file: str, definition: str) -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415 (validation only)

    schema = load_schema(file)
    if definition not in schema["$defs"]:
        raise KeyError(f"{file} has no definition {definition!r}")
    sub = {"$schema": schema["$schema"], "$ref": f"{schema['$id']}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(sub, registry=schema_registry())


def inlined_schema(file: str) -> dict[str, Any]:
    """The packaged schema ``file`` with every ``$ref`` replaced by its target.

    The schemas are acyclic. jsonschema re-resolves a ``$ref`` on every
    visit; validating against the inlined form gives the same verdicts in
    about half the time, which matters for large vector files. A ``$ref``
    with sibling keywords (a refinement, such as the vector files' stricter
    batch) is merged with its target (see :func:`_refine`).
    """
    schema = load_schema(file)
    inlined: dict[str, Any] = _inline(schema, schema["$id"], 0)
    return inlined


def _resolve(ref: str, base: str) -> tuple[dict[str, Any], str]:
    """The target of ``ref`` seen from the document ``base``, and its document."""
    target, _, pointer = ref.partition("#")
    document = base if not target else base.rsplit("/", 1)[0] + "/" + target
    by_id = {load_schema(f)["$id"]: load_schema(f) for f in SCHEMA_FILES}
    if document not in by_id or not pointer.startswith("/$defs/"):
        raise ValueError(f"schema: cannot inline $ref {ref!r} from {base}")
    node: dict[str, Any] = by_id[document]["$defs"][pointer.removeprefix("/$defs/")]
    return node, document


def _inline(node: Any, base: str, depth: int) -> Any:
    if depth > 60:
        raise ValueError("schema: $ref nesting too deep (a cycle?)")
    if isinstance(node, dict):
        ref = node.get("$ref")
        rest = {k: _inline(v, base, depth + 1) for k, v in node.items()
                if k not in ("$ref", "$defs", "$id")}
        if not isinstance(ref, str):
            return rest
        target, document = _resolve(ref, base)
        inlined = _inline(target, document, depth + 1)
        if not rest.keys() - {"description", "title"}:
            return inlined  # annotations beside a $ref change no verdict
        return _refine(inlined, rest)
    if isinstance(node, list):
        return [_inline(v, base, depth + 1) for v in node]
    return node


_APPLICATORS = frozenset(("allOf", "anyOf", "oneOf", "not", "if", "$ref", "$dynamicRef",
                          "patternProperties", "additionalProperties", "dependentSchemas"))


def _refine(target: dict[str, Any], refinement: dict[str, Any]) -> dict[str, Any]:
    """``target`` narrowed by the sibling keywords of a ``$ref`` to it.

    A plain object schema narrowed by more ``properties`` and
    ``unevaluatedProperties: false`` is merged into one object schema (each
    narrowed property becomes ``allOf`` of both; only ``properties`` can
    evaluate a property there, so ``unevaluatedProperties: false`` means
    ``additionalProperties: false``). Anything else becomes ``allOf``.
    """
    simple = not (target.keys() & _APPLICATORS)
    if not simple or refinement.keys() - {"properties", "unevaluatedProperties", "description"}:
        return {"allOf": [target], **refinement}
    merged = dict(target)
    properties = dict(target.get("properties", {}))
    for name, narrower in refinement.get("properties", {}).items():
        properties[name] = {"allOf": [properties[name], narrower]} if name in properties \
            else narrower
    merged["properties"] = properties
    if refinement.get("unevaluatedProperties") is False:
        merged["additionalProperties"] = False
    elif "unevaluatedProperties" in refinement:
        return {"allOf": [target], **refinement}
    return merged
