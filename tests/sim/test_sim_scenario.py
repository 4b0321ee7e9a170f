"""Scenario validation: every bad value fails before the run, naming its key."""

from __future__ import annotations

import pytest

from privtrak.sim import (
    SCENARIO_NAMES,
    ScenarioError,
    builtin_scenario,
    parse_dist,
    parse_scenario,
    scenario_from_yaml,
)


@pytest.mark.parametrize(("raw", "path"), [
    ({"bogus": 1}, "bogus"),
    ({"workload": {"arrivals": {"rate": -1}}}, "workload.arrivals.rate"),
    ({"workload": {"populaton": 5}}, "workload.populaton"),
    ({"workload": {"population": -5}}, "workload.population"),
    ({"workload": {"vanish_fraction": 1.5}}, "workload.vanish_fraction"),
    ({"workload": {"seeding_time": {"weibull": {"shape": 0, "scale": 10}}}},
     "workload.seeding_time.weibull.shape"),
    ({"workload": {"seeding_time": {"weibull": {"shape": 1}}}},
     "workload.seeding_time.weibull.scale"),
    ({"workload": {"size": {"uniform": {"low": 5, "high": 1}}}}, "workload.size.uniform.low"),
    ({"workload": {"size": {"gamma": {"k": 1}}}}, "workload.size.gamma"),
    ({"workload": {"size": {"lognormal": {"median": 1, "sigma": -1}}}},
     "workload.size.lognormal.sigma"),
    ({"workload": {"download_rate": 0}}, "workload.download_rate"),
    ({"workload": {"jitter": "40m"}}, "workload.jitter"),
    ({"workload": {"flash_crowd": {"initial_rate": -3}}}, "workload.flash_crowd.initial_rate"),
    ({"database": {"connections": 0}}, "database.connections"),
    ({"database": {"latency": {"base": "soon"}}}, "database.latency.base"),
    ({"database": {"outages": [{"start": 5, "length": 3}]}}, "database.outages[0].length"),
    ({"database": {"failure_probability": 0.7, "failure_after_commit_probability": 0.5}},
     "database.failure_after_commit_probability"),
    ({"tracker": {"batch_size": -1}}, "tracker.batch_size"),
    ({"tracker": {"nonsense": 1}}, "tracker.nonsense"),
    ({"hook_mode": "sideways"}, "hook_mode"),
    ({"duration": 0}, "duration"),
    ({"seed": -1}, "seed"),
    ({"tracker_model": {"flusher": {"parallel": 0}}}, "tracker_model.flusher.parallel"),
    ({"memory": {"task_bytes": "big"}}, "memory.task_bytes"),
])
def test_bad_values_name_their_key(raw: dict[str, object], path: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(raw)
    assert info.value.path == path
    assert repr(path) in str(info.value)


def test_error_shows_the_value() -> None:
    with pytest.raises(ScenarioError, match=r"got -2\.5"):
        parse_scenario({"workload": {"arrivals": {"rate": -2.5}}})


def test_empty_scenario_takes_defaults_and_durations_parse() -> None:
    sc = parse_scenario({"duration": "1h30m", "bucket": 30,
                         "workload": {"seeding_time": {"weibull": {"shape": 0.5,
                                                                   "scale": "2h"}}}})
    assert sc.duration == 5400.0
    assert sc.bucket == 30.0
    assert sc.workload.seeding_time.b == 7200.0
    assert sc.hook_mode == "offpath"
    assert sc.tracker.preset == "recommended"


def test_tracker_section_is_the_reference_config() -> None:
    sc = parse_scenario({"tracker": {"preset": "seed", "batch_size": 64}})
    assert sc.tracker.batch_size == 64
    assert sc.tracker.peer_lifetime == 1800
    assert sc.to_data()["tracker"]["preset"] == "seed"


def test_every_shipped_scenario_is_valid() -> None:
    names = {builtin_scenario(n).name for n in SCENARIO_NAMES}
    assert names == set(SCENARIO_NAMES)


def test_yaml_errors_are_scenario_errors() -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        scenario_from_yaml("workload: [unclosed")
    with pytest.raises(ScenarioError) as info:
        scenario_from_yaml("workload: 5")
    assert info.value.path == "workload"


def test_overrides_validate() -> None:
    sc = builtin_scenario()
    assert sc.with_overrides(seed=9, duration=60).seed == 9
    with pytest.raises(ScenarioError):
        sc.with_overrides(duration=-1)


def test_distribution_means_and_quantiles() -> None:
    expo = parse_dist("x", {"exponential": {"mean": 4}})
    assert expo.mean() == 4
    assert expo.quantile(0.0) == 0.0
    weib = parse_dist("x", {"weibull": {"shape": 1, "scale": 3}})
    assert weib.mean() == pytest.approx(3.0)
    logn = parse_dist("x", {"lognormal": {"median": 10, "sigma": 1}})
    assert logn.quantile(0.5) == pytest.approx(10.0)
    uni = parse_dist("x", {"uniform": {"low": 2, "high": 4}})
    assert uni.quantile(0.25) == 2.5
    assert parse_dist("x", 7).mean() == 7
    assert parse_dist("x", "2m", duration=True).a == 120.0
