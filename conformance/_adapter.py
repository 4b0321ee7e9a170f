"""The adapter side of protocol v2: an implementation behind JSON lines.

``privtrak adapter`` (its command line is in :mod:`.cli`) puts the
reference behind the protocol; the same loop
(:func:`serve`) serves any *implementation factory*: a callable
``factory(config, start, allow_list)`` returning an object with ``apply(step) ->
observation`` (:class:`~privtrak.conformance._execute.Execution` is the
reference's). Mutants reuse it with their own factories.

The loop reads one JSON object per line from stdin and writes one per line
to stdout (ASCII, flushed after each); diagnostics go to stderr only::

    -> {"type": "hello", "protocol": 2}
    <- {"type": "hello", "protocol": 2, "implementation": ..., "version": ...,
        "features": [...]}
    -> {"type": "reset", "case": id, "preset": ..., "config": {...},
        "config_yaml": "...", "allow_list": null | [hex, ...], "start": t}
    <- {"type": "ready"} | {"type": "unsupported", "reason": ...}
    -> {"type": "step", "index": i, "step": STEP}
    <- {"type": "observation", "index": i, "observation": OBS}
     | {"type": "error", "index": i, "code": ..., "message": ...}
    -> {"type": "bye"}                      (the loop returns 0)

The configuration is read from ``config_yaml`` (the seed's YAML form, Go
durations) and must say the same as ``config``; an unknown key in either
makes the reset ``unsupported``. A line that is not a JSON object, an
unknown message type or a step before any reset is answered with an
``error`` (code ``internal``, ``index`` null when unknown) and the loop
goes on; end of input also ends it with 0.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from privtrak import __version__
from privtrak.reference import Config, ConfigError, PrivtrakError, UserId, parse_config

from ._execute import BeyondModel, ExecutionError
from ._steps import Observation, Step, VectorError, Where
from ._steps_json import decode_step, encode_observation
from ._vectors import FEATURES

PROTOCOL = 2
ALL_FEATURES: tuple[str, ...] = FEATURES
"""Everything the reference supports: every feature name of protocol v2."""


class Implementation(Protocol):
    """What a factory returns: one fresh instance per case."""

    def apply(self, step: Step) -> Observation:
        """Run one step and return its observation; raise to report an error."""
        ...


ImplementationFactory = Callable[[Config, int, frozenset[UserId] | None], Implementation]
"""``factory(config, start, allow_list)`` -> a fresh implementation for one case."""


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What the adapter says about itself in its hello."""

    name: str
    version: str
    features: tuple[str, ...]


REFERENCE_INFO = AdapterInfo("privtrak-reference", __version__, ALL_FEATURES)


class _Session:
    """The state of one adapter conversation."""

    def __init__(self, factory: ImplementationFactory, info: AdapterInfo, out: TextIO,
                 err: TextIO) -> None:
        self.factory = factory
        self.info = info
        self.out = out
        self.err = err
        self.impl: Implementation | None = None
        self.case: str | None = None

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message, separators=(",", ":")) + "\n")
        self.out.flush()

    def log(self, text: str) -> None:
        self.err.write(f"privtrak adapter: {text}\n")
        self.err.flush()

    def error(self, index: object, message: str, code: str = "internal") -> None:
        self.log(message)
        self.send({"type": "error", "index": index if type(index) is int else None,
                   "code": code, "message": message})

    def handle(self, line: str) -> bool:
        """Answer one line; returns False when the conversation is over."""
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as exc:
            self.error(None, f"line is not JSON ({exc.msg}): {line[:80]!r}")
            return True
        if not isinstance(msg, dict):
            self.error(None, f"message must be a JSON object, got {line[:80]!r}")
            return True
        kind = msg.get("type")
        if kind == "hello":
            self.send({"type": "hello", "protocol": PROTOCOL, "implementation": self.info.name,
                       "version": self.info.version, "features": list(self.info.features)})
        elif kind == "reset":
            self.reset(msg)
        elif kind == "step":
            self.step(msg)
        elif kind == "bye":
            return False
        else:
            self.error(msg.get("index"), f"unknown message type {kind!r}; expected hello, "
                                         "reset, step or bye")
        return True

    def reset(self, msg: Mapping[str, Any]) -> None:
        self.impl = None
        case = msg.get("case")
        self.case = case if isinstance(case, str) else None
        start = msg.get("start", 0)
        raw_config = msg.get("config")
        try:
            if not isinstance(raw_config, Mapping):
                raise ConfigError("config", raw_config, "must be an object")
            config = parse_config(raw_config)
            text = msg.get("config_yaml")
            if text is not None:
                from_yaml = parse_config(_yaml_mapping(text))
                if from_yaml != config:
                    raise ConfigError("config_yaml", text, "says something else than config")
        except ConfigError as exc:
            self.send({"type": "unsupported", "reason": f"invalid config: {exc}"})
            return
        try:
            allow_list = _allow_list(msg.get("allow_list"))
        except ValueError as exc:
            self.send({"type": "unsupported", "reason": f"invalid allow_list: {exc}"})
            return
        preset = msg.get("preset", config.preset)
        if preset != config.preset:
            self.send({"type": "unsupported", "reason": f"preset {preset!r} differs from the "
                                                        f"config's {config.preset!r}"})
            return
        if f"preset:{preset}" not in self.info.features:
            self.send({"type": "unsupported", "reason": f"preset {preset!r} not supported"})
            return
        try:
            self.impl = self.factory(config, start, allow_list)
        except (ExecutionError, PrivtrakError) as exc:
            self.send({"type": "unsupported", "reason": str(exc)})
            return
        self.send({"type": "ready"})

    def step(self, msg: Mapping[str, Any]) -> None:
        index = msg.get("index")
        if self.impl is None:
            self.error(index, "step before a successful reset")
            return
        where = Where(case=self.case, step=index if type(index) is int else None)
        try:
            step = decode_step(msg.get("step"), where)
            observation = self.impl.apply(step)
        except BeyondModel as exc:
            self.error(index, str(exc), "unsupported")
            return
        except (VectorError, ExecutionError, PrivtrakError) as exc:
            self.error(index, str(exc))
            return
        except Exception as exc:  # an implementation bug: report it, keep serving
            self.log(traceback.format_exc())
            self.error(index, f"{type(exc).__name__}: {exc}", "crashed")
            return
        self.send({"type": "observation", "index": index,
                   "observation": encode_observation(observation)})


def _yaml_mapping(text: object) -> Mapping[str, Any]:
    import yaml  # noqa: PLC0415 - only a reset needs it; the adapter starts fast

    if not isinstance(text, str):
        raise ConfigError("config_yaml", text, "must be a string")
    # libyaml's parser when PyYAML was built with it (the wheels are): the
    # pure-Python one took about 40 % of the adapter's CPU over the vectors.
    # Both build values with the same safe constructor and resolver.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise ConfigError("config_yaml", text[:60], f"is not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError("config_yaml", text[:60], "must be a YAML mapping")
    return doc


def _allow_list(value: object) -> frozenset[UserId] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"must be null or a list of user ids, got {value!r}")
    out = set()
    for item in value:
        if not (isinstance(item, str) and len(item) == 32
                and all(c in "0123456789abcdef" for c in item)):
            raise ValueError(f"{item!r} is not a user id (32 lowercase hex characters)")
        out.add(UserId(bytes.fromhex(item)))
    return frozenset(out)


def serve(factory: ImplementationFactory, info: AdapterInfo = REFERENCE_INFO,
          stdin: TextIO | None = None, stdout: TextIO | None = None,
          stderr: TextIO | None = None) -> int:
    """Run the protocol v2 loop until ``bye`` or end of input; returns 0."""
    session = _Session(factory, info, stdout or sys.stdout, stderr or sys.stderr)
    source = stdin or sys.stdin
    while True:
        line = source.readline()
        if not line:
            return 0
        if line.strip() and not session.handle(line):
            return 0
