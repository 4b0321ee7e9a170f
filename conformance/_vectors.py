"""Vector files, format version 2: the model, loading, validation and writing.

A vector file is one JSON document::

    {"format": "privtrak-vectors", "version": 2, "group": "<name>",
     "cases": [CASE, ...]}

and a case is ``{"id", "description", "rules", "defects", "preset",
"features", "start", "config", "allow_list", "steps": [{"step": STEP,
"expect": OBS}]}``
(``conformance/schema/vector.schema.json`` is the normative schema; the steps
and observations are described in :mod:`._steps` and :mod:`._execute`).

Loading checks the schema first (jsonschema, draft 2020-12), then what a
schema cannot say: ids unique, the config complete and valid and matching the
preset, the features a case needs declared, times never decreasing. Every
error is a :class:`VectorError` naming the file, case and step. A bad case
does not hide the good ones: :func:`load_file` returns the cases it could
read together with one error per case it could not.

The packaged files skip the schema step (1.3 s of CPU for all of them, where
the rest of loading takes a fraction of that) when their bytes are the ones
listed in the packaged ``vectors/SHA256SUMS``: ``privtrak vectors`` writes
that list next to the files it generates, and the test suite validates
exactly those bytes against the schema. A packaged file that was edited,
and every other file, gets the full validation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privtrak.reference import (
    PRESETS,
    Config,
    ConfigError,
    UserId,
    config_to_mapping,
    parse_config,
)

if TYPE_CHECKING:
    import jsonschema

from ._schemas import inlined_schema, vector_schema
from ._steps import (
    JsonObject,
    Observation,
    ReportStep,
    SnapshotRestoreStep,
    Step,
    TakeStep,
    VectorError,
    Where,
    step_time,
)
from ._steps_json import decode_observation, decode_step, encode_observation, encode_step

FORMAT = "privtrak-vectors"
VERSION = 2

FEATURES: tuple[str, ...] = (
    "outcomes", "records", "seed_panic", "snapshot", "ledger", "batch_ids",
    "purge_records", "event_records", "deferred", "entry_flags", "next_deadline",
    "allow_list", *(f"preset:{p}" for p in PRESETS),
)
"""Every feature name an adapter may declare and a case may need."""

FIELD_FEATURES: frozenset[str] = frozenset(
    {"outcomes", "records", "seed_panic", "ledger", "batch_ids", "entry_flags",
     "next_deadline"})
"""Features that gate observation fields (compared only when declared), never whole
cases: a case does not list them, so an adapter lacking one still runs the case."""

RULE_ID = re.compile(r"^R[0-9]+(\.[0-9]+)*$")
DEFECTS = range(1, 14)
"""The numbered defects of seed-behaviour.md section 2."""


@dataclass(frozen=True, slots=True)
class CaseStep:
    """One step of a case and the observation the reference makes of it."""

    step: Step
    expect: Observation


@dataclass(frozen=True, slots=True)
class Case:
    """One self-contained conformance case."""

    id: str
    description: str
    rules: tuple[str, ...]
    defects: tuple[int, ...]
    preset: str
    features: tuple[str, ...]
    start: int
    config: Config
    steps: tuple[CaseStep, ...]
    allow_list: frozenset[UserId] | None = None
    """R1.2: the only user ids the passkey identifier accepts (``None``: any)."""


@dataclass(frozen=True, slots=True)
class VectorFile:
    """The cases a file holds and the errors of those it could not read."""

    path: str
    group: str | None
    cases: tuple[Case, ...]
    errors: tuple[VectorError, ...] = field(default=())


def required_features(config: Config, steps: Iterable[Step],
                      allow_list: frozenset[UserId] | None = None) -> list[str]:
    """Features any case with this config, steps and allow-list needs."""
    needed = [f"preset:{config.preset}"]
    steps = list(steps)
    if any(isinstance(s, SnapshotRestoreStep) for s in steps):
        needed.append("snapshot")
    if any(isinstance(s, TakeStep | ReportStep) for s in steps):
        needed.append("deferred")
    if allow_list is not None:
        needed.append("allow_list")
    if config.policy.event_records:
        needed.append("event_records")
    if config.policy.purge_records:
        needed.append("purge_records")
    return needed


# -- writing ------------------------------------------------------------------


def encode_case(case: Case) -> JsonObject:
    """A case in wire form, keys in the documented order."""
    return {
        "id": case.id,
        "description": case.description,
        "rules": list(case.rules),
        "defects": list(case.defects),
        "preset": case.preset,
        "features": list(case.features),
        "start": case.start,
        "config": config_to_mapping(case.config),
        "allow_list": None if case.allow_list is None else sorted(u.hex() for u in
                                                                   case.allow_list),
        "steps": [{"step": encode_step(s.step), "expect": encode_observation(s.expect)}
                  for s in case.steps],
    }


def _one_line(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(", ", ": "))


def dumps_file(group: str, cases: Sequence[Case]) -> str:
    """The canonical text of a vector file: one step per line, trailing newline.

    Deterministic: the same cases always give the same bytes.
    """
    out = ["{", f'  "format": "{FORMAT}",', f'  "version": {VERSION},',
           f'  "group": {_one_line(group)},', '  "cases": [']
    for ci, case in enumerate(cases):
        doc = encode_case(case)
        out.append("    {")
        for key in ("id", "description", "rules", "defects", "preset", "features", "start",
                    "config", "allow_list"):
            out.append(f"      {_one_line(key)}: {_one_line(doc[key])},")
        out.append('      "steps": [')
        steps = doc["steps"]
        for si, step in enumerate(steps):
            comma = "," if si + 1 < len(steps) else ""
            out.append(f"        {_one_line(step)}{comma}")
        out.append("      ]")
        out.append("    }" + ("," if ci + 1 < len(cases) else ""))
    out.append("  ]")
    out.append("}")
    return "\n".join(out) + "\n"


# -- loading ------------------------------------------------------------------


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415 (only files that are not trusted need it)

    jsonschema.Draft202012Validator.check_schema(vector_schema())
    return jsonschema.Draft202012Validator(inlined_schema("vector.schema.json"))


def _schema_error(file: str, doc: Any, err: jsonschema.ValidationError) -> VectorError:
    path = list(err.absolute_path)
    case_id: str | None = None
    step: int | None = None
    rest = path
    if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
        raw = doc["cases"][path[1]]
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        case_id = raw_id if isinstance(raw_id, str) else f"#{path[1]}"
        rest = path[2:]
        if len(rest) >= 2 and rest[0] == "steps" and isinstance(rest[1], int):
            step = rest[1]
            rest = rest[2:]
    field_path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)
    return VectorError(Where(file, case_id, step), field_path.lstrip(".") or "<case>",
                       f"schema: {err.message}")


def decode_case(raw: Any, where: Where) -> Case:
    """A case from wire form that already passed the schema; semantic checks here."""
    case_id: str = raw["id"]
    where = Where(where.file, case_id)
    preset = raw["preset"]
    if raw["config"].get("preset") != preset:
        raise VectorError(where, "config.preset",
                          f"must equal the case preset {preset!r}, got "
                          f"{raw['config'].get('preset')!r}")
    try:
        config = parse_config(raw["config"])
    except ConfigError as exc:
        raise VectorError(where, f"config.{exc.key}", exc.why) from None
    full = config_to_mapping(config)
    if full != raw["config"]:
        diff = sorted(k for k in full if full[k] != raw["config"].get(k))
        raise VectorError(where, f"config.{diff[0] if diff else '?'}",
                          "config must be complete and canonical (config_to_mapping output): "
                          f"expected {full.get(diff[0]) if diff else None!r}")
    start = raw["start"]
    steps: list[CaseStep] = []
    now = start
    for index, pair in enumerate(raw["steps"]):
        at = where.at(index)
        step = decode_step(pair["step"], at)
        t = step_time(step)
        if t is not None:
            if t < now:
                raise VectorError(at, "step.now", f"must not decrease: {t} < {now}")
            now = t
        steps.append(CaseStep(step, decode_observation(step.op, pair["expect"], at)))
    features = tuple(raw["features"])
    for feature in features:
        if feature not in FEATURES:
            raise VectorError(where, "features", f"unknown feature {feature!r}")
    allow_list = None if raw["allow_list"] is None else frozenset(
        UserId(bytes.fromhex(u)) for u in raw["allow_list"])
    for feature in required_features(config, (s.step for s in steps), allow_list):
        if feature not in features:
            raise VectorError(where, "features", f"must include {feature!r}")
    for rule in raw["rules"]:
        if not RULE_ID.match(rule):
            raise VectorError(where, "rules", f"{rule!r} is not a rule id such as R4.1")
    return Case(case_id, raw["description"], tuple(raw["rules"]), tuple(raw["defects"]),
                preset, features, start, config, tuple(steps), allow_list)


def parse_file(text: str, file: str, *, schema_checked: bool = False) -> VectorFile:
    """Read a vector file's text; bad cases become errors, good ones are kept.

    ``schema_checked`` skips the schema step: only for text known to pass it
    (see the module docstring); the semantic checks always run.
    """
    top = Where(file)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return VectorFile(file, None, (), (VectorError(
            top, f"line {exc.lineno} column {exc.colno}", f"not JSON: {exc.msg}"),))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return VectorFile(file, None, (), (VectorError(
            top, "format", f"must be {FORMAT!r}: this is not a vector file"),))
    if doc.get("version") != VERSION:
        return VectorFile(file, None, (), (VectorError(
            top, "version", f"unsupported version {doc.get('version')!r}; this reader "
                            f"knows {VERSION}"),))
    by_case: dict[int, jsonschema.ValidationError] = {}
    schema_errors: Iterable[jsonschema.ValidationError] = (
        () if schema_checked else _validator().iter_errors(doc))
    for err in sorted(schema_errors, key=lambda e: str(list(e.absolute_path))):
        path = list(err.absolute_path)
        if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
            by_case.setdefault(path[1], err)
        else:
            return VectorFile(file, None, (), (_schema_error(file, doc, err),))
    cases: list[Case] = []
    errors: list[VectorError] = []
    seen: set[str] = set()
    for index, raw in enumerate(doc["cases"]):
        if index in by_case:
            errors.append(_schema_error(file, doc, by_case[index]))
            continue
        try:
            case = decode_case(raw, top)
        except VectorError as exc:
            errors.append(exc)
            continue
        if case.id in seen:
            errors.append(VectorError(Where(file, case.id), "id", "duplicate case id"))
            continue
        seen.add(case.id)
        cases.append(case)
    return VectorFile(file, doc["group"], tuple(cases), tuple(errors))


def load_file(path: str | Path) -> VectorFile:
    """Read the vector file at ``path`` (see :func:`parse_file`); a packaged file
    whose bytes are listed in ``SHA256SUMS`` skips the schema step."""
    p = Path(path)
    try:
        data = p.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return VectorFile(str(p), None, (), (VectorError(Where(str(p)), "<file>",
                                                         f"cannot read: {exc}"),))
    return parse_file(text, str(p), schema_checked=_packaged_and_listed(p, data))


DIGEST_FILE = "SHA256SUMS"
"""The list of the generated vector files' SHA-256 digests, next to them, in
the format of ``sha256sum`` (so ``sha256sum -c SHA256SUMS`` checks it too)."""


def digest_listing(files: Mapping[str, bytes]) -> str:
    """The text of a :data:`DIGEST_FILE` for ``files`` (name -> bytes), sorted by name."""
    return "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n"
                   for name in sorted(files))


@cache
def packaged_digests() -> dict[str, str]:
    """File name -> SHA-256 hex digest, from the packaged :data:`DIGEST_FILE`
    (empty when there is none or it cannot be read)."""
    try:
        text = (packaged_vector_dir() / DIGEST_FILE).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return {}
    digests: dict[str, str] = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if sep and re.fullmatch(r"[0-9a-f]{64}", digest):
            digests[name] = digest
    return digests


def _packaged_and_listed(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a packaged vector file with exactly the listed bytes."""
    listed = packaged_digests().get(path.name)
    if listed is None:
        return False
    try:
        packaged = path.resolve().parent == packaged_vector_dir().resolve()
    except OSError:
        return False
    return packaged and hashlib.sha256(data).hexdigest() == listed


def load_strict(path: str | Path) -> list[Case]:
    """Every case of the file at ``path``; raises the first :class:`VectorError`."""
    loaded = load_file(path)
    if loaded.errors:
        raise loaded.errors[0]
    return list(loaded.cases)


def packaged_vector_dir() -> Path:
    """The folder of the vector files shipped with the package."""
    return Path(str(resources.files("privtrak.conformance").joinpath("vectors")))


def packaged_vector_files() -> list[Path]:
    """The shipped vector files, sorted by name."""
    return sorted(packaged_vector_dir().glob("*.json"))
