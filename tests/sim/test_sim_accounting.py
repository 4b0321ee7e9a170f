"""Conservation is exact in every run; determinism is byte for byte; the
workload is the same across hook modes (common random numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from privtrak.sim import LOSS_CAUSES, Simulation, SimulationResult, parse_scenario, run


def small(mode: str, preset: str, **extra: Any) -> dict[str, Any]:
    """A busy little tracker: every loss cause can occur within ten minutes."""
    raw: dict[str, Any] = {
        "duration": "12m", "bucket": "2m", "hook_mode": mode, "seed": 5,
        "tracker": {"preset": preset, "shard_count": 4, "batch_size": 8,
                    "gc_interval": "1m", "peer_lifetime": "3m"},
        "workload": {"users": 40, "torrents": 10, "population": 150, "arrivals": {"rate": 0.3},
                     "announce_interval": "2m", "jitter": "10s",
                     "late": {"fraction": 0.1, "delay": {"exponential": {"mean": "3m"}}},
                     "second_client_fraction": 0.2, "vanish_fraction": 0.2,
                     "restart_fraction": 0.2,
                     "seeding_time": {"weibull": {"shape": 0.7, "scale": "5m"}}},
        "database": {"latency": {"base": "50ms", "per_record": "5ms"}},
    }
    for key, value in extra.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return raw


def total_lost(r: SimulationResult) -> int:
    return sum(sum(r.row(f"lost.{c}")) for c in LOSS_CAUSES)


@pytest.mark.parametrize("preset", ["seed", "recommended"])
@pytest.mark.parametrize("mode", ["prehook", "posthook", "offpath"])
def test_conservation_is_exact_in_every_hook_mode_and_preset(mode: str, preset: str) -> None:
    r = run(parse_scenario(small(mode, preset)))
    assert r.conserved, r.accounting
    up, down = r.row("transferred")
    parts = ["credited", "pending", "returned", "unreported",
             *(f"lost.{c}" for c in LOSS_CAUSES)]
    assert up == sum(r.row(p)[0] for p in parts)
    assert down == sum(r.row(p)[1] for p in parts)
    assert up > 0 and down > 0
    assert sum(r.row("credited")) > 0
    assert total_lost(r) != 0


@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_conservation_with_failures_outage_and_stop(preset: str) -> None:
    raw = small("prehook", preset, tracker_model={"stop_at_end": True},
                database={"failure_probability": 0.2, "failure_after_commit_probability": 0.2,
                          "outages": [{"start": "3m", "duration": "2m"}]})
    r = run(parse_scenario(raw))
    assert r.conserved, r.accounting
    assert r.database["failures"] > 0
    assert sum(r.row("pending")) == 0  # the tracker was stopped and closed
    if preset == "seed":
        assert r.row("returned") == (0, 0)
    else:
        assert r.row("lost.dropped") == (0, 0)


def test_seed_loses_to_shared_keys_and_the_recommended_preset_does_not() -> None:
    seed = run(parse_scenario(small("offpath", "seed")))
    rec = run(parse_scenario(small("offpath", "recommended")))
    assert seed.row("lost.shared_key") != (0, 0)
    assert rec.row("lost.shared_key") == (0, 0)
    # Same workload (common random numbers): the same bytes were transferred.
    assert seed.row("transferred") == rec.row("transferred")


def test_hook_modes_see_the_same_workload() -> None:
    slow = {"latency": {"base": "20s", "per_record": "1s"}}
    results = [run(parse_scenario(small(m, "seed", database=slow)))
               for m in ("prehook", "posthook", "offpath")]
    assert len({r.row("transferred") for r in results}) == 1


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    raw = small("prehook", "seed", database={"failure_probability": 0.1})
    for name in ("a", "b"):
        run(parse_scenario(raw)).write(tmp_path / name)
    for f in ("results.json", "series.csv", "accounting.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    other = run(parse_scenario(raw), seed=6)
    assert other.results_json() != (tmp_path / "a" / "results.json").read_text()


def test_warm_start_avoids_the_cold_baseline_loss() -> None:
    cold = run(parse_scenario(small("offpath", "recommended",
                                    workload={"warm_start": False, "arrivals": {"rate": 0}})))
    warm = run(parse_scenario(small("offpath", "recommended",
                                    workload={"arrivals": {"rate": 0}})))
    assert cold.conserved and warm.conserved
    assert sum(cold.row("lost.baseline")) > 0
    assert sum(warm.row("lost.baseline")) == 0


def test_an_interrupted_run_keeps_what_it_has_and_says_so() -> None:
    sims: list[Simulation] = []
    seen: list[float] = []

    def progress(now: float) -> None:
        seen.append(now)
        sims[0].interrupt()

    r = run(parse_scenario(small("prehook", "seed")), on_progress=progress,
            simulation=sims.append)
    assert r.partial
    assert 0 < r.simulated_seconds < 12 * 60
    assert r.simulated_seconds == seen[-1]
    assert r.conserved
    assert r.series[-1]["t_end"] == r.simulated_seconds
