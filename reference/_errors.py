"""The reference's small error hierarchy.

Two families, kept apart as h11 keeps protocol errors apart from local misuse:

* :class:`InvalidInput` and :class:`ConfigError`: a value that came from
  outside (a request field, a config key, a snapshot) is wrong. The message
  names the field or key and the offending value. Nothing was changed.
* :class:`UsageError`: the driver called the core out of order (an outcome
  for a batch that is not in flight, time going backwards, ``next_batch``
  or ``collect_garbage`` after close). Nothing was changed; the call can be
  corrected and repeated.

Announces that the tracker refuses (unknown passkey, back-pressure, closing)
are *not* exceptions: they are ordinary results with a
:class:`~privtrak.reference.RejectCode`, because refusing is part of the
specified behaviour.
"""

from __future__ import annotations


class PrivtrakError(Exception):
    """Base class of every error the reference raises on purpose."""


class InvalidInput(PrivtrakError, ValueError):
    """A value built from outside input is malformed.

    ``field`` names what was wrong (``"uploaded"``, ``"info_hash"``, ...) and
    ``value`` is the offending value, so callers can report both.
    """

    def __init__(self, field: str, value: object, why: str) -> None:
        self.field = field
        self.value = value
        self.why = why
        super().__init__(f"{field}: {why} (got {_show(value)})")


class ConfigError(PrivtrakError, ValueError):
    """A configuration key is unknown, of the wrong type or out of range."""

    def __init__(self, key: str, value: object, why: str) -> None:
        self.key = key
        self.value = value
        self.why = why
        super().__init__(f"config key {key!r}: {why} (got {_show(value)})")


class SnapshotError(PrivtrakError, ValueError):
    """A snapshot document cannot be restored; ``path`` locates the problem."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"snapshot {path}: {why}")


class UsageError(PrivtrakError, RuntimeError):
    """The driver called the core out of order; the state is unchanged."""


class Unmodelled(UsageError):
    """The call would continue from a state the reference does not model.

    Under ``expiry_panic = abort`` (R7.3) the reference stops where the seed
    panics: after a GC panic the seed's process is dead, and after an
    announce-path panic the panicking user's stored list is corrupted. A
    call that would read or change such a state raises this and changes
    nothing; the conformance kit ends a case there.
    """


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
