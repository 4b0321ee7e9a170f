"""The adapter side of protocol v1: an implementation behind JSON lines.

``privtrak adapter`` (its command line is in :mod:`.cli`) puts the
reference behind the protocol; the same loop
(:func:`serve`) serves any *implementation factory*: a callable
``factory(config, start)`` returning an object with ``apply(step) ->
observation`` (:class:`~privtrak.conformance._execute.Execution` is the
reference's). Mutants reuse it with their own factories.

The loop reads one JSON object per line from stdin and writes one per line
to stdout (ASCII, flushed after each); diagnostics go to stderr only::

    -> {"type": "hello", "protocol": 1}
    <- {"type": "hello", "protocol": 1, "implementation": ..., "version": ...,
        "features": [...]}
    -> {"type": "reset", "case": id, "preset": ..., "config": {...}, "start": t}
    <- {"type": "ready"} | {"type": "unsupported", "reason": ...}
    -> {"type": "step", "index": i, "step": STEP}
    <- {"type": "observation", "index": i, "observation": OBS}
     | {"type": "error", "index": i, "message": ...}
    -> {"type": "bye"}                      (the loop returns 0)

A line that is not a JSON object, an unknown message type or a step before
any reset is answered with an ``error`` (``index`` null when unknown) and
the loop goes on; end of input also ends it with 0.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from privtrak import __version__
from privtrak.reference import Config, ConfigError, PrivtrakError, parse_config

from ._execute import ExecutionError
from ._steps import Observation, Step, VectorError, Where, decode_step, encode_observation
from ._vectors import FEATURES

PROTOCOL = 1
ALL_FEATURES: tuple[str, ...] = FEATURES
"""Everything the reference supports: every feature name of protocol v1."""


class Implementation(Protocol):
    """What a factory returns: one fresh instance per case."""

    def apply(self, step: Step) -> Observation:
        """Run one step and return its observation; raise to report an error."""
        ...


ImplementationFactory = Callable[[Config, int], Implementation]
"""``factory(config, start)`` -> a fresh implementation for one case."""


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

    def error(self, index: object, message: str) -> None:
        self.log(message)
        self.send({"type": "error", "index": index if type(index) is int else None,
                   "message": message})

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
        except ConfigError as exc:
            self.send({"type": "unsupported", "reason": f"invalid config: {exc}"})
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
            self.impl = self.factory(config, start)
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
        except (VectorError, ExecutionError, PrivtrakError) as exc:
            self.error(index, str(exc))
            return
        except Exception as exc:  # an implementation bug: report it, keep serving
            self.log(traceback.format_exc())
            self.error(index, f"{type(exc).__name__}: {exc}")
            return
        self.send({"type": "observation", "index": index,
                   "observation": encode_observation(observation)})


def serve(factory: ImplementationFactory, info: AdapterInfo = REFERENCE_INFO,
          stdin: TextIO | None = None, stdout: TextIO | None = None,
          stderr: TextIO | None = None) -> int:
    """Run the protocol v1 loop until ``bye`` or end of input; returns 0."""
    session = _Session(factory, info, stdout or sys.stdout, stderr or sys.stderr)
    source = stdin or sys.stdin
    while True:
        line = source.readline()
        if not line:
            return 0
        if line.strip() and not session.handle(line):
            return 0
