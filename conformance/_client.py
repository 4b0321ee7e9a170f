"""The runner's side of the adapter protocol (PROTOCOL.md, version 2).

:class:`AdapterClient` owns one :class:`AdapterProcess` and speaks the
protocol over it: the handshake, a reset per case, one step request per
step, and ``bye``. Every reply is checked against
``schema/protocol.schema.json`` (the envelope, and the observation's shape
for the step's op); anything else raises :class:`ProtocolError` saying what
was wrong. A well-formed observation with wrong *values* is not a protocol
error: the runner compares it and reports a failure.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from ._process import AdapterError, AdapterProcess, ProtocolError
from ._schemas import definition_validator
from ._yaml_config import config_yaml

PROTOCOL_VERSION = 2

V2_ADDITIONS = (
    "deferred batch outcomes (take and report steps), seed_would_panic on announces, "
    "the completed flag of entries and next_deadline in state, removed counts that may "
    "be null after a seed panic, allow_list and config_yaml in reset, two new policy "
    "keys (expiry_panic, stop_entries) and a code on error replies")
"""What version 2 adds to version 1, named for an adapter that speaks only 1."""


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What the adapter said about itself in the handshake."""

    implementation: str
    version: str
    features: frozenset[str]


class Unsupported(Exception):
    """The adapter declined a case at reset (an honest skip)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class StepFailed(AdapterError):
    """The adapter answered a step with an ``error`` reply."""


def schema_problem(definition: str, value: object) -> str | None:
    """The first way ``value`` breaks ``$defs/<definition>``, or ``None``."""
    validator = definition_validator("protocol.schema.json", definition)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return None
    err = errors[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.path)
    return f"{where or '<top>'}: {err.message}"


class AdapterClient:
    """A running adapter after a successful handshake. Build with :meth:`start`."""

    def __init__(self, process: AdapterProcess, info: AdapterInfo, timeout: float) -> None:
        self.process = process
        self.info = info
        self.timeout = timeout

    @classmethod
    def start(cls, command: str, timeout: float) -> AdapterClient:
        """Start ``command`` and shake hands within ``timeout`` seconds.

        Raises AdapterStartError (cannot start) or AdapterError (no valid
        hello); the process is killed in the latter case.
        """
        process = AdapterProcess(command)
        try:
            process.send({"type": "hello", "protocol": PROTOCOL_VERSION})
            reply = process.receive(timeout)
            problem = schema_problem("hello_reply", reply)
            if problem is not None:
                if reply.get("type") == "hello" and reply.get("protocol") != PROTOCOL_VERSION:
                    problem = (f"the adapter speaks protocol {reply.get('protocol')!r}; "
                               f"this runner speaks {PROTOCOL_VERSION}")
                    if reply.get("protocol") == 1:
                        problem += f", which adds {V2_ADDITIONS} (PROTOCOL.md section 10)"
                raise ProtocolError(f"bad hello reply {_show(reply)}: {problem}",
                                    process.stderr_tail())
        except BaseException:  # no valid hello, or Ctrl-C: never leave the process behind
            process.kill()
            raise
        info = AdapterInfo(reply["implementation"], reply["version"],
                           frozenset(reply["features"]))
        return cls(process, info, timeout)

    def reset(self, case_id: str, preset: str, config: dict[str, Any], start: int,
              timeout: float | None = None, *,
              allow_list: tuple[str, ...] | None = None) -> None:
        """Ask for a fresh instance; raises Unsupported if the adapter declines."""
        self.process.send({"type": "reset", "case": case_id, "preset": preset,
                           "config": config, "config_yaml": config_yaml(config),
                           "allow_list": None if allow_list is None else list(allow_list),
                           "start": start})
        reply = self._receive(timeout)
        kind = reply.get("type")
        if kind == "unsupported" and schema_problem("unsupported", reply) is None:
            raise Unsupported(reply["reason"])
        problem = schema_problem("ready", reply)
        if problem is not None:
            raise ProtocolError(f"reset: expected ready or unsupported, got {_show(reply)}: "
                                f"{problem}", self.process.stderr_tail())

    def step(self, index: int, step: dict[str, Any],
             timeout: float | None = None) -> dict[str, Any]:
        """Run one step; the adapter's observation (an object, not yet checked
        for its shape: see :meth:`observation_problem`)."""
        self.process.send({"type": "step", "index": index, "step": step})
        reply = self._receive(timeout)
        tail = self.process.stderr_tail
        kind = reply.get("type")
        if kind == "error" and schema_problem("error_reply", reply) is None:
            if reply["index"] != index:
                raise ProtocolError(f"error reply for step {reply['index']} while step {index} "
                                    "was asked", tail())
            if reply["code"] == "unsupported":
                raise Unsupported(f"step {index} ({step.get('op')}): {reply['message']}")
            raise StepFailed(f"the adapter reported an error ({reply['code']}): "
                             f"{reply['message']}", tail())
        # The envelope is checked by hand: this runs once per step.
        if kind != "observation" or not {"index", "observation"} <= reply.keys() or (
                not isinstance(reply["observation"], dict)):
            problem = schema_problem("observation_reply", reply) or "unexpected reply"
            raise ProtocolError(f"expected an observation or error reply, got {_show(reply)}: "
                                f"{problem}", tail())
        if reply["index"] != index:
            raise ProtocolError(f"observation for step {reply['index']!r} while step {index} "
                                "was asked", tail())
        observation: dict[str, Any] = reply["observation"]
        return observation

    def check_observation(self, op: str, observation: dict[str, Any]) -> None:
        """Raise ProtocolError if ``observation`` is not shaped as an ``op``
        observation must be. The runner calls it only for an observation that
        differs from the expectation (a matching one is well-formed)."""
        problem = schema_problem(f"observation_{op}", observation)
        if problem is not None:
            raise ProtocolError(f"malformed {op} observation {_show(observation)}: {problem}",
                                self.process.stderr_tail())

    def bye(self) -> None:
        """Say goodbye and wait briefly for the exit; never raises."""
        with contextlib.suppress(AdapterError):
            self.process.send({"type": "bye"})
        self.process.close(timeout=2.0)

    def _receive(self, timeout: float | None) -> dict[str, Any]:
        return self.process.receive(self.timeout if timeout is None else timeout)


def _show(value: object) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 300 else text[:297] + "..."
