"""An invalid study fails before any simulation runs, naming the key."""

from typing import Any

import pytest

from privtrak.capacity import STUDY_NAMES, StudyError, load_study, parse_study


def _spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "t", "replications": 2, "duration": "2m", "bucket": "10s",
        "scenario": {"workload": {"population": 100}},
        "sweep": {"grid": {"hook_mode": ["offpath", "posthook"]},
                  "zip": {"database.latency.base": ["1ms", "2s"]}},
        "axis": {"key": "database.latency.base", "label": "latency", "unit": "s"},
        "thresholds": {"unstable": {"max": 0}},
    }
    spec.update(changes)
    return spec


def _error(spec: dict[str, Any]) -> StudyError:
    with pytest.raises(StudyError) as info:
        parse_study(spec)
    return info.value


def test_a_valid_spec_makes_every_point() -> None:
    study = parse_study(_spec())
    assert len(study.points) == 4
    assert study.config_keys == ("hook_mode",)
    assert {p.scenario.database.base_latency for p in study.points} == {0.001, 2.0}


def test_unknown_top_level_key_suggests_the_right_one() -> None:
    spec = _spec()
    spec["replicatoins"] = 3
    err = _error(spec)
    assert err.key == "replicatoins" and "did you mean 'replications'" in err.why


def test_unknown_sweep_key_suggests_a_scenario_key() -> None:
    err = _error(_spec(sweep={"grid": {"database.latency.bsae": ["1ms"]}}))
    assert "database.latency.bsae" in err.key
    assert "did you mean 'database.latency.base'" in err.why


def test_empty_sweep_list_and_empty_sweep() -> None:
    assert _error(_spec(sweep={"grid": {"hook_mode": []}})).key == "sweep.grid.hook_mode"
    assert _error(_spec(sweep={})).key == "sweep"


def test_zipped_lists_must_have_the_same_length() -> None:
    err = _error(_spec(sweep={"zip": {"database.latency.base": ["1ms", "2s"],
                                      "database.connections": [1]}}))
    assert err.key == "sweep.zip"


def test_threshold_on_a_metric_that_does_not_exist() -> None:
    err = _error(_spec(thresholds={"latency_p999": {"max": 1}}))
    assert err.key == "thresholds.latency_p999"
    assert "did you mean 'latency_p99'" in err.why


def test_threshold_needs_one_bound_and_a_number() -> None:
    assert _error(_spec(thresholds={"latency_p99": {"max": 1, "min": 0}})).key == (
        "thresholds.latency_p99")
    assert _error(_spec(thresholds={"latency_p99": {"max": "soon"}})).key == (
        "thresholds.latency_p99.max")


def test_axis_must_be_swept_and_replications_at_least_two() -> None:
    assert _error(_spec(axis={"key": "workload.population"})).key == "axis.key"
    assert _error(_spec(replications=1)).key == "replications"


def test_a_value_the_simulator_refuses_fails_the_study_naming_the_point() -> None:
    err = _error(_spec(sweep={"zip": {"database.latency.base": ["1ms"],
                                      "database.connections": [0]}}))
    assert "database.connections" in str(err) and "positive" in str(err)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_every_shipped_study_is_valid(name: str) -> None:
    study = load_study(f"builtin:{name}")
    assert study.points and study.thresholds and study.figures


def test_null_in_the_inline_scenario_restores_the_default() -> None:
    # The shipped default scenario sets tracker.max_batch_age: 15s; null removes it,
    # so each preset's own value applies (seed: off, recommended: 10 s).
    study = parse_study(_spec(
        scenario={"tracker": {"max_batch_age": None}, "workload": {"population": 100}},
        sweep={"grid": {"tracker.preset": ["seed", "recommended"]},
               "zip": {"database.latency.base": ["1ms"]}}))
    ages = {p.scenario.tracker.preset: p.scenario.tracker.max_batch_age for p in study.points}
    assert ages == {"seed": None, "recommended": 10}
