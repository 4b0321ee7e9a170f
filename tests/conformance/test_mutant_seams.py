"""The mutants change the reference only through its declared extension points.

A refactor of the core that renames or drops a hook a mutant overrides would
otherwise disarm that mutant silently: the override would still define a
method or set an attribute, but nothing would call or read it. These tests
introspect every shipped mutant and fail on anything the ``Tracker``
docstring's "Extension points" section does not declare.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from privtrak.conformance import MUTANTS, _mutants, _mutants_gaps
from privtrak.reference import PasskeyIdentifier, Tracker, parse_config, restore, snapshot
from privtrak.reference._batching import Batcher

CONFIGS = [
    {"preset": "seed"},
    {"preset": "recommended"},
    {"preset": "recommended", "max_pending": 100, "purge_records": True,
     "started_on_known": "reset", "baseline_key": "user_torrent"},
    {"preset": "seed", "baseline_key": "user_torrent_peer", "expiry_panic": "abort"},
]
"""Configurations under which every hot-path override must change something."""

CLASS_BOOKKEEPING = {"__module__", "__qualname__", "__doc__", "__annotations__",
                     "__firstlineno__", "__static_attributes__", "__dict__", "__weakref__",
                     "__orig_bases__", "__parameters__"}


def _mutant_tracker_classes() -> list[type[Tracker]]:
    """Every Tracker subclass the mutant modules define."""
    found: list[type[Tracker]] = []
    for module in (_mutants, _mutants_gaps):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Tracker) and cls is not Tracker and cls.__module__ == (
                    module.__name__):
                found.append(cls)
    return found


TRACKERS = _mutant_tracker_classes()


def _own_names(cls: type) -> Iterator[str]:
    return (n for n in vars(cls) if n not in CLASS_BOOKKEEPING)


def _used_tracker_classes() -> set[type[Tracker]]:
    return {c for f in MUTANTS.values()
            if isinstance(c := getattr(f, "tracker_class", None), type)}


def test_the_mutant_modules_define_tracker_mutants() -> None:
    assert len(TRACKERS) >= 30
    # Every mutant tracker class is served by some mutant (none is dead code),
    # except the helper base the others extend.
    unused = {c for c in TRACKERS if c not in _used_tracker_classes()}
    assert unused == {_mutants_gaps.MutantTracker}


def test_every_extension_point_exists_and_is_documented() -> None:
    doc = Tracker.__doc__ or ""
    assert "Extension points" in doc
    section = doc.split("Extension points", 1)[1]
    for name in Tracker.EXTENSION_POINTS:
        assert hasattr(Tracker, name), name
        assert f"``{name}" in section, f"{name} is not documented in Tracker's docstring"
    fresh = Tracker()
    for name in Tracker.HOT_PATH_SETTINGS:
        assert name in vars(fresh), f"hot-path setting {name} is not set by the tracker"


def test_the_state_a_subclass_may_use_exists_and_is_documented() -> None:
    fresh = Tracker()
    section = (Tracker.__doc__ or "").split("Extension points", 1)[1]
    for name in Tracker.SUBCLASS_STATE:
        assert hasattr(fresh, name), f"declared subclass state {name} is not on a tracker"
        assert f"``{name}``" in section, f"{name} is not documented in Tracker's docstring"


def _protected_names_used(cls: type) -> set[str]:
    """Every ``self._name`` (not dunder) the class body of ``cls`` reads or writes."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "self" and node.attr.startswith("_")
            and not node.attr.startswith("__")}


@pytest.mark.parametrize("cls", TRACKERS, ids=lambda c: c.__name__)
def test_a_mutant_uses_only_declared_state(cls: type[Tracker]) -> None:
    """A renamed attribute of the core must fail here, by name, instead of
    leaving a mutant that sets a field nothing reads."""
    declared = {*Tracker.EXTENSION_POINTS, *Tracker.HOT_PATH_SETTINGS,
                *Tracker.SUBCLASS_STATE}
    own = {n for c in cls.__mro__ if c not in Tracker.__mro__ for n in vars(c)}
    stray = _protected_names_used(cls) - declared - own
    assert not stray, (f"{cls.__name__} uses {sorted(stray)}, which Tracker does not "
                       "declare as extension points, hot-path settings or subclass state")


def test_the_state_check_sees_a_stray_name() -> None:
    class ReachesIn(Tracker):
        def entries(self) -> Any:
            return self._shard_numbers

    used = _protected_names_used(ReachesIn)
    assert used == {"_shard_numbers"}
    assert "_shard_numbers" not in {*Tracker.EXTENSION_POINTS, *Tracker.HOT_PATH_SETTINGS,
                                    *Tracker.SUBCLASS_STATE}


@pytest.mark.parametrize("cls", TRACKERS, ids=lambda c: c.__name__)
def test_a_mutant_overrides_only_public_methods_and_extension_points(
        cls: type[Tracker]) -> None:
    for name in _own_names(cls):
        if name.startswith("_"):
            assert name in Tracker.EXTENSION_POINTS, (
                f"{cls.__name__} overrides {name}, which is not a declared extension point")
            assert hasattr(Tracker, name)
        elif not hasattr(Tracker, name):
            # A new public name is only the mutant helper's own step.
            assert name in vars(_mutants_gaps.MutantTracker), (
                f"{cls.__name__}.{name} overrides nothing in Tracker")


@pytest.mark.parametrize("cls", [c for c in TRACKERS if c.batcher_class is not Batcher],
                         ids=lambda c: c.__name__)
def test_a_broken_batcher_overrides_public_batcher_methods_and_is_installed(
        cls: type[Tracker]) -> None:
    broken = cls.batcher_class
    for name in _own_names(broken):
        assert not name.startswith("_") and callable(getattr(Batcher, name, None)), (
            f"{broken.__name__}.{name} is not a public Batcher method")
    tracker = cls(parse_config({"preset": "recommended"}))
    assert type(tracker._batcher) is broken
    restored = restore(snapshot(tracker), tracker_class=cls)
    assert type(restored) is cls and type(restored._batcher) is broken


def _plain(value: Any) -> Any:
    """A value to compare between two fresh trackers: objects that are not plain
    data (tables, bound methods, the batcher) compare by type."""
    if value is None or isinstance(value, (bool, int, str, tuple, dict, list)):
        return value
    return type(value)


def _settings(tracker: Tracker) -> dict[str, Any]:
    return {name: _plain(value) for name, value in vars(tracker).items()}


HOT_PATH_MUTANTS = [c for c in TRACKERS if "_configure_hot_path" in vars(c)]


def test_there_are_hot_path_mutants() -> None:
    assert len(HOT_PATH_MUTANTS) >= 10


@pytest.mark.parametrize("cls", HOT_PATH_MUTANTS, ids=lambda c: c.__name__)
def test_a_hot_path_override_changes_only_declared_settings(cls: type[Tracker]) -> None:
    identifier = PasskeyIdentifier()
    changed_somewhere = False
    for raw in CONFIGS:
        config = parse_config(raw)
        base = _settings(Tracker(config, identifier))
        mutant = cls(config, identifier)
        mine = _settings(mutant)
        assert mine.keys() == base.keys(), (
            f"{cls.__name__} sets attributes the tracker does not have: "
            f"{sorted(mine.keys() - base.keys())}")
        differ = {n for n in base if base[n] != mine[n]}
        assert differ <= set(Tracker.HOT_PATH_SETTINGS), (
            f"{cls.__name__} changes {sorted(differ)}, not all declared hot-path settings")
        changed_somewhere |= bool(differ)
        # A restored mutant has the same settings as a built one.
        restored = restore(snapshot(mutant), identifier, tracker_class=cls)
        assert _settings(restored) == mine
    assert changed_somewhere, f"{cls.__name__}'s hot-path override changes nothing"


def test_restore_keeps_a_subclass_and_refuses_what_is_not_a_tracker_class() -> None:
    tracker = Tracker(parse_config({"preset": "recommended"}))
    doc = snapshot(tracker)
    assert type(restore(doc)) is Tracker
    mutant = _mutants.BatchSizeOffByOne
    restored = restore(doc, tracker_class=mutant)
    assert type(restored) is mutant and snapshot(restored) == doc
