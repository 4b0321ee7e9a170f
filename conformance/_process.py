"""The adapter subprocess: JSON lines over pipes, with timeouts that never hang.

:class:`AdapterProcess` starts the command under test, writes one JSON object
per line to its stdin and reads one per line from its stdout. Two daemon
threads drain stdout (into a queue) and stderr (into a bounded tail), so a
reply is awaited with :meth:`queue.Queue.get` and a timeout: an adapter that
hangs, floods stderr or dies is always noticed within the timeout.

Every failure is one of three exceptions, all carrying the stderr tail:

* :class:`AdapterTimeout`: no reply within the timeout;
* :class:`AdapterCrashed`: the process exited or closed its stdout;
* :class:`ProtocolError`: a line that is not one JSON object.

After any of them the process is in an unknown state: :meth:`kill` it and
start a new one.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import IO, Any

STDERR_TAIL_LINES = 40
"""How many of the adapter's last stderr lines an error report carries."""

_EOF = object()


class AdapterError(Exception):
    """The adapter failed; ``stderr_tail`` holds its last stderr lines."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        self.message = message
        self.stderr_tail = stderr_tail
        super().__init__(message)


class AdapterTimeout(AdapterError):
    """No reply arrived within the allowed time."""


class AdapterCrashed(AdapterError):
    """The adapter exited, closed its stdout, or could not be written to."""


class ProtocolError(AdapterError):
    """The adapter wrote something that breaks the protocol."""


class AdapterStartError(Exception):
    """The command could not be started at all (not found, not executable)."""


def split_command(command: str) -> list[str]:
    """Split a shell-like command string into argv; raises AdapterStartError."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise AdapterStartError(f"cannot parse adapter command {command!r}: {exc}") from None
    if not argv:
        raise AdapterStartError("the adapter command is empty")
    return argv


class AdapterProcess:
    """One running adapter. Use :meth:`send` and :meth:`receive`; end with
    :meth:`close` (polite) or :meth:`kill` (always works)."""

    def __init__(self, command: str, *, env: Mapping[str, str] | None = None,
                 cwd: str | None = None) -> None:
        argv = split_command(command)
        self.command = command
        try:
            # A new session gives the adapter its own process group, so kill()
            # also reaches children it started (e.g. a shell wrapper's child).
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=None if env is None else dict(env), cwd=cwd,
                start_new_session=True)
        except OSError as exc:
            raise AdapterStartError(f"cannot start adapter {command!r}: {exc}") from None
        self._lines: queue.Queue[object] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_lock = threading.Lock()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._pump_stdout, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._pump_stderr, args=(self._proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- reader threads ------------------------------------------------------

    def _pump_stdout(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for raw in stream:
                self._lines.put(raw)
        self._lines.put(_EOF)

    def _pump_stderr(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for raw in stream:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._stderr_lock:
                    self._stderr.append(text)

    # -- public --------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The adapter's process id."""
        return self._proc.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._proc.poll() is None

    def stderr_tail(self) -> str:
        """The adapter's last stderr lines, joined by newlines."""
        with self._stderr_lock:
            return "\n".join(self._stderr)

    def send(self, message: Mapping[str, Any]) -> None:
        """Write ``message`` as one JSON line; raises AdapterCrashed if the pipe is gone."""
        stdin = self._proc.stdin
        assert stdin is not None
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            stdin.write(line.encode("utf-8"))
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise AdapterCrashed(self._exit_text("stopped reading its stdin"),
                                 self._settled_tail()) from None

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next JSON object the adapter writes, within ``timeout`` seconds.

        Raises AdapterTimeout, AdapterCrashed or ProtocolError (not UTF-8,
        not JSON, not an object, or an empty line).
        """
        try:
            item = self._lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            raise AdapterTimeout(f"no reply within {timeout:.3g} s",
                                 self.stderr_tail()) from None
        if item is _EOF:
            self._lines.put(_EOF)  # later receives see the end again
            raise AdapterCrashed(self._exit_text("closed its stdout"), self._settled_tail())
        assert isinstance(item, bytes)
        try:
            text = item.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"reply is not UTF-8: {_show(item)}",
                                self.stderr_tail()) from None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"reply is not JSON ({exc.msg} at column {exc.colno}): "
                                f"{_show(item)}", self.stderr_tail()) from None
        if not isinstance(value, dict):
            raise ProtocolError(f"reply must be a JSON object, got {_show(item)}",
                                self.stderr_tail())
        return value

    def close(self, timeout: float = 2.0) -> int | None:
        """Close stdin and wait for a polite exit; kill after ``timeout``.
        Returns the exit status (negative: killed by that signal)."""
        stdin = self._proc.stdin
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                stdin.close()
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """End the adapter and its process group now; returns the exit status."""
        if self._proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self._proc.kill()
        try:
            status = self._proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process immune to SIGKILL
            status = None
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        return status

    # -- helpers -------------------------------------------------------------

    def _settled_tail(self) -> str:
        """The stderr tail after giving a dying process a moment to finish writing."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=0.5)
        self._threads[1].join(timeout=0.5)
        return self.stderr_tail()

    def _exit_text(self, what: str) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=0.5)
        status = self._proc.poll()
        if status is None:
            return f"the adapter {what}"
        if status < 0:
            return f"the adapter {what}: killed by signal {-status}"
        return f"the adapter {what}: exited with status {status}"


def _show(raw: bytes) -> str:
    text = repr(raw.rstrip(b"\r\n"))
    return text if len(text) <= 200 else text[:197] + "..."
