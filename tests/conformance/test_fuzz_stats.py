"""The fuzzer's traces: deep enough, acceptable to a seed-only adapter, and
reaching the rules (figures of privtrak.conformance._fuzz_stats)."""

from __future__ import annotations

from privtrak.conformance._fuzz_stats import collect, figures
from privtrak.conformance._fuzz_traces import seed_adapter_accepts
from privtrak.reference import parse_config


def test_seed_traces_are_accepted_by_a_seed_only_adapter() -> None:
    runs = collect(["seed"], 60, seed=3, snapshots=False)
    stats = figures(runs)
    assert stats["seed_adapter_accepts"] >= 0.8
    assert stats["length"]["max"] >= 20  # one run, so examples grow past the simplest
    for rule in ("R3", "R3.2", "R7", "R7.3", "R9.1"):
        assert stats["rules"].get(rule, 0) > 0, rule


def test_mixed_traces_draw_policy_mixes_and_deferred_steps() -> None:
    runs = collect(["seed", "recommended"], 80, seed=5, mix=True)
    mixed = [t for t, _ in runs if t.config.policy not in (
        parse_config({"preset": "seed"}).policy, parse_config({"preset": "recommended"}).policy)]
    assert mixed
    assert any(r for _, rules in runs for r in rules if r == "R6.4")
    assert not seed_adapter_accepts(parse_config({"preset": "seed", "max_batch_age": 5}))
