"""The distinct time and byte types fail type-checking where they are swapped.

``Seconds``, ``Duration`` and ``ByteCount`` are ``NewType``s of ``int``:
nothing checks them at run time, so only mypy can tell a call that passes a
counter where a time is due. Each line of ``MISTAKES`` below is a mistake
listed with the error mypy must report on it; ``CORRECT`` uses the same API
as intended and must pass ``--strict`` untouched, and so must the README's
example of the reference.

mypy runs once, in-process, on both snippets, against the installed
``privtrak.reference`` sources (linked into a temporary ``privtrak``
package: the editable install's import hook is invisible to mypy). Imports
are followed silently, so only the snippets' own lines are reported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api as mypy_api

import privtrak.reference

_PRELUDE = '''\
from privtrak.reference import (
    AnnounceRequest, ByteCount, Duration, InfoHash, PeerId, Seconds, Tracker, default_config,
    passkey_credential, UserId,
)

config = default_config()
tracker = Tracker(config, now=Seconds(100))
now = Seconds(160)
request = AnnounceRequest(passkey_credential(UserId(b"u" * 16)), InfoHash(b"i" * 20),
                          PeerId(b"p" * 20), ByteCount(10), ByteCount(0), ByteCount(5))
'''

def _arg(number: int | str, call: str, given: str, want: str) -> str:
    name = f"Argument {number}" if isinstance(number, int) else f'Argument "{number}"'
    return f'{name} to "{call}" has incompatible type "{given}"; expected "{want}"'


def _assign(given: str, want: str) -> str:
    return (f'Incompatible types in assignment (expression has type "{given}", '
            f'variable has type "{want}")')


# (a line of code that misuses the types, the error mypy must report on it)
MISTAKES = [
    ("tracker.announce(now, request)",
     _arg(1, 'announce" of "Tracker', "Seconds", "AnnounceRequest")),
    ("tracker.collect_garbage(ByteCount(3))",
     _arg(1, 'collect_garbage" of "Tracker', "ByteCount", "Seconds")),
    ("tracker.collect_garbage(config.gc_interval)",
     _arg(1, 'collect_garbage" of "Tracker', "Duration", "Seconds")),
    ("tracker.next_batch(170)",
     _arg(1, 'next_batch" of "Tracker', "int", "Seconds")),
    ("tracker.stop(request.uploaded)",
     _arg(1, 'stop" of "Tracker', "ByteCount", "Seconds")),
    ("tracker.batch_failed(1, now + config.retry_backoff_initial)",
     _arg(2, 'batch_failed" of "Tracker', "int", "Seconds")),
    ("AnnounceRequest(request.credential, request.info_hash, request.peer_id, uploaded=now, "
     "downloaded=ByteCount(0), left=ByteCount(0))",
     _arg("uploaded", "AnnounceRequest", "Seconds", "ByteCount")),
    ("Tracker(config, now=ByteCount(0))",
     _arg("now", "Tracker", "ByteCount", "Seconds")),
    ("lifetime: Duration = tracker.now", _assign("Seconds", "Duration")),
    ("seen: Seconds = tracker.entries()[0].uploaded", _assign("ByteCount", "Seconds")),
]
MISUSED = _PRELUDE + "".join(f"{code}\n" for code, _ in MISTAKES)

CORRECT = _PRELUDE + '''\
result = tracker.announce(request, now)
tracker.collect_garbage(Seconds(now + config.gc_interval))
batch = tracker.next_batch(tracker.now)
if batch is not None:
    tracker.batch_failed(batch.batch_id, Seconds(now + config.retry_backoff_initial))
deadline: Seconds | None = tracker.next_deadline()
credited: int = result.credited_up + tracker.ledger().credited_down
for entry in tracker.entries():
    age: int = tracker.now - entry.last_seen
tracker.stop(tracker.next_gc_at)
'''

ROOT = Path(__file__).resolve().parents[2]
_README_EXAMPLE = re.compile(r"## The reference in a few lines\n+```python\n(.*?)```", re.S)

_REPORTED = re.compile(r"^(?P<file>[^:]+\.py):(?P<line>\d+): error: (?P<message>.+?)"
                       r"(?:\s+\[[a-z-]+\])?$")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, list[str]]]:
    """mypy's errors per snippet file name and line."""
    root = tmp_path_factory.mktemp("typecheck")
    package = root / "privtrak"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "reference").symlink_to(Path(privtrak.reference.__file__).parent,
                                       target_is_directory=True)
    (root / "misused.py").write_text(MISUSED)
    (root / "correct.py").write_text(CORRECT)
    example = _README_EXAMPLE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert example is not None, "README.md lost its section 'The reference in a few lines'"
    (root / "readme.py").write_text(example[1])
    (root / "mypy.ini").write_text("[mypy]\n")
    stdout, stderr, status = mypy_api.run([
        "--config-file", str(root / "mypy.ini"), "--strict", "--follow-imports=silent",
        "--cache-dir", str(root / ".mypy_cache"), "--no-error-summary",
        "--show-error-context", "--no-pretty", "--hide-error-codes",
        str(root / "misused.py"), str(root / "correct.py"), str(root / "readme.py")])
    assert status in (0, 1), f"mypy could not run (status {status}):\n{stdout}{stderr}"
    found: dict[str, dict[int, list[str]]] = {"misused.py": {}, "correct.py": {},
                                              "readme.py": {}}
    for line in stdout.splitlines():
        match = _REPORTED.match(line)
        if match is None:
            continue
        name = Path(match["file"]).name
        assert name in found, f"mypy reported outside the snippets: {line}"
        found[name].setdefault(int(match["line"]), []).append(_as_tracker(match["message"]))
    return found


def _as_tracker(message: str) -> str:
    """``of "TrackerPurge"`` -> ``of "Tracker"``: the public class is built from
    mixins, and mypy names the one that defines the method."""
    mixins = {cls.__name__ for cls in privtrak.reference.Tracker.__mro__[1:-1]}
    return re.sub(r'of "(\w+)"',
                  lambda m: 'of "Tracker"' if m[1] in mixins else m[0], message)


def test_every_swapped_argument_is_named_by_mypy(
        reports: dict[str, dict[int, list[str]]]) -> None:
    """Each mistake's line gets the error listed with it; no other line errs."""
    first = _PRELUDE.count("\n") + 1
    expected = {first + i: message for i, (_, message) in enumerate(MISTAKES)}
    got = reports["misused.py"]
    unexpected = {n: m for n, m in got.items() if n not in expected}
    assert not unexpected, f"errors on lines without a mistake: {unexpected}"
    for number, message in expected.items():
        assert message in got.get(number, []), (
            f"line {number}: want {message!r}, mypy said {got.get(number, [])}")


def test_the_intended_use_passes_strict_checking(
        reports: dict[str, dict[int, list[str]]]) -> None:
    """The same API used as intended: no error at all."""
    assert reports["correct.py"] == {}


def test_the_readme_example_passes_strict_checking(
        reports: dict[str, dict[int, list[str]]]) -> None:
    """The README's first Python example is typed as the API asks."""
    assert reports["readme.py"] == {}
