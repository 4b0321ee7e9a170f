"""What every ``privtrak`` subcommand shares: exit statuses, "did you mean",
output paths checked before the work, and a progress bar only on a terminal.

Exit statuses of every subcommand:

* 0: done, everything passed;
* 1: done, and something failed (a case, a divergence, an out-of-date file);
* 2: the run could not happen (``conform``: the adapter could not be
  started or failed its handshake; ``sim``: the scenario is invalid);
* 3 (:data:`EXIT_USAGE`): the command line asks for something impossible:
  an unknown option or value, a filter no case matches, an output path that
  cannot be written;
* 130 (:data:`EXIT_INTERRUPTED`): stopped by Ctrl-C, after reporting what
  was done.

This module imports only the standard library, so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn, Protocol, TextIO

EXIT_USAGE = 3
"""The command line asks for something impossible (see the module docstring)."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (128 + SIGINT, as shells report it)."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class UsageParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors exit with
    :data:`EXIT_USAGE` and whose invalid choices (subcommands included) get a
    "did you mean" suggestion."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` to stderr; exit :data:`EXIT_USAGE`."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            names = [str(c) for c in choices]
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r}{did_you_mean(str(value), names)} "
                        f"(choose from {', '.join(map(repr, names))})")


def check_writable_file(path: Path) -> str | None:
    """Why a file cannot be written at ``path``, or ``None`` if it can.

    Checked before a long run, so that its results are not lost at the end;
    nothing is created.
    """
    if path.is_dir():
        return f"{path} is a directory"
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return f"the folder {parent} does not exist"
    if path.exists():
        if not os.access(path, os.W_OK):
            return f"{path} is not writable"
    elif not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {parent} is not writable"
    return None


class ProgressBar(Protocol):
    """The part of a tqdm bar the commands use."""

    def update(self, n: int = 1) -> object:
        """Advance by ``n``."""
        ...

    def clear(self) -> object:
        """Erase the bar before other output."""
        ...

    def close(self) -> object:
        """Erase the bar for good."""
        ...


class _NoBar:
    """The bar when none is drawn: does nothing."""

    def update(self, n: int = 1) -> None:
        """Nothing."""

    def clear(self) -> None:
        """Nothing."""

    def close(self) -> None:
        """Nothing."""


def progress_bar(total: int, *, stream: TextIO, enabled: bool = True, unit: str = "it",
                 desc: str = "") -> ProgressBar:
    """A progress bar on ``stream``, drawn only when ``enabled`` and ``stream`` is a
    terminal (a redirected stderr gets no bar); tqdm is imported only then."""
    isatty = getattr(stream, "isatty", None)
    if not enabled or isatty is None or not isatty():
        return _NoBar()
    from tqdm import tqdm  # noqa: PLC0415 (imported only when a bar is drawn)

    bar: ProgressBar = tqdm(total=total, file=stream, unit=unit, desc=desc, leave=False,
                            dynamic_ncols=True)
    return bar
