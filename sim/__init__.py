"""privtrak.sim: the SimPy swarm simulator that drives the reference core.

Typical use::

    from privtrak.sim import builtin_scenario, load_scenario, run

    result = run(load_scenario("my.yaml"), seed=7)   # or builtin_scenario()
    result.write("out/")           # results.json, series.csv, accounting.csv, summary.md
    assert result.conserved        # transferred == credited + pending + ... + lost

``README.md`` beside this package's source documents the scenario format,
the hook modes, the outputs and the memory cost model.
"""

from __future__ import annotations

from ._accounting import CAUSES, LOSS_CAUSES
from ._dists import Dist, parse_dist
from ._engine import Simulation
from ._errors import ScenarioError
from ._results import FORMAT, SimulationResult
from ._run import collect, run
from ._scenario import (
    HOOK_MODES,
    SCENARIO_NAMES,
    DatabaseModel,
    FlashCrowd,
    MemoryModel,
    Outage,
    Scenario,
    TrackerModel,
    Workload,
    builtin_scenario,
    builtin_scenario_text,
    load_scenario,
    parse_scenario,
    scenario_from_yaml,
)
from ._stats import SERIES_COLUMNS

__all__ = [
    "CAUSES",
    "FORMAT",
    "HOOK_MODES",
    "LOSS_CAUSES",
    "SCENARIO_NAMES",
    "SERIES_COLUMNS",
    "DatabaseModel",
    "Dist",
    "FlashCrowd",
    "MemoryModel",
    "Outage",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "SimulationResult",
    "TrackerModel",
    "Workload",
    "builtin_scenario",
    "builtin_scenario_text",
    "collect",
    "load_scenario",
    "parse_dist",
    "parse_scenario",
    "run",
    "scenario_from_yaml",
]
