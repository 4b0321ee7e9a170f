"""The run leaves Python's garbage collector as it found it."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
import yaml

from privtrak.sim import Simulation, builtin_scenario_text, parse_scenario
from privtrak.sim._kernel import CollectorTruce


@pytest.fixture
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def _small_run(on_progress: Callable[[float], None]) -> Simulation:
    raw = yaml.safe_load(builtin_scenario_text("default"))
    raw["workload"]["population"] = 200
    raw["duration"] = 120
    return Simulation(parse_scenario(raw), on_progress=on_progress)


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("enabled", [True, False])
def test_a_run_restores_the_collector(enabled: bool) -> None:
    if enabled:
        gc.enable()
    else:
        gc.disable()
    seen: list[tuple[bool, int]] = []
    _small_run(lambda _t: seen.append((gc.isenabled(), gc.get_freeze_count()))).run()
    assert seen, "the run made no progress calls"
    # During the run the population is frozen and the collector as found.
    assert all(on == enabled and frozen > 0 for on, frozen in seen)
    assert gc.isenabled() == enabled
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector_state")
def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    gc.freeze()
    before = gc.get_freeze_count()
    truce = CollectorTruce()
    truce.pause()
    assert not gc.isenabled()
    truce.freeze_survivors()
    assert gc.isenabled()
    truce.restore()
    assert gc.get_freeze_count() == before
