"""The adapter process across the cases of a run: start, handshake, restart.

A :class:`Session` starts the adapter lazily, shakes hands, and after any
trouble (crash, timeout, protocol breach) kills it so that the next case
gets a fresh process. :class:`CannotRun` means the run cannot happen at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._client import AdapterClient, AdapterInfo
from ._process import AdapterError, AdapterStartError

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for any one reply."""
DEFAULT_CASE_TIMEOUT = 60.0
"""Seconds one whole case may take."""
EXIT_CANNOT_RUN = 2


class CannotRun(Exception):
    """The run cannot happen at all (exit status 2)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to drive the adapter."""

    command: str
    timeout: float = DEFAULT_TIMEOUT
    case_timeout: float = DEFAULT_CASE_TIMEOUT


class Session:
    """The adapter process across cases: started lazily, restarted after trouble."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.client: AdapterClient | None = None
        self.info: AdapterInfo | None = None
        self.restarts = 0

    def open(self) -> AdapterInfo:
        """Start the adapter and shake hands; raises CannotRun."""
        try:
            self.client = AdapterClient.start(self.options.command, self.options.timeout)
        except AdapterStartError as exc:
            raise CannotRun(str(exc)) from None
        except AdapterError as exc:
            tail = f"\nadapter stderr:\n{_indent(exc.stderr_tail)}" if exc.stderr_tail else ""
            raise CannotRun(f"handshake with {self.options.command!r} failed: "
                            f"{exc.message}{tail}") from None
        self.info = self.client.info
        return self.info

    def ensure(self) -> AdapterClient:
        """The running client, restarting the adapter if it was discarded."""
        if self.client is None:
            self.restarts += 1
            info = self.open()
            if self.info is not None and info.features != self.info.features:
                raise CannotRun("the restarted adapter declares different features")
        assert self.client is not None
        return self.client

    def discard(self) -> None:
        """Kill the adapter; the next :meth:`ensure` starts a new one."""
        if self.client is not None:
            self.client.process.kill()
            self.client = None

    def close(self) -> None:
        """Say bye to a live adapter."""
        if self.client is not None:
            self.client.bye()
            self.client = None


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
