"""Configuration: keys, presets, Go durations, fall-backs, errors, round trip (R10)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privtrak.reference import (
    RECOMMENDED,
    SEED,
    ConfigError,
    Policy,
    config_to_mapping,
    default_config,
    parse_config,
    parse_go_duration,
)

POLICY_ALTERNATIVES: dict[str, tuple[object, object]] = {
    "baseline_key": ("user_torrent", "user_torrent_peer"),
    "counter_decrease": ("negative_delta", "reset"),
    "started_on_known": ("continue", "reset"),
    "stopped_unknown": ("insert_baseline", "ignore"),
    "event_records": (False, True),
    "stale_on_announce": ("revive", "expire"),
    "purge_on_announce": (True, False),
    "purge_records": (False, True),
    "batch_scope": ("shard", "global"),
    "flush_path": ("announce", "background"),
    "flush_on_gc": (False, True),
    "failed_batch": ("merge", "retain"),
    "handler_failure": ("fail_announce", "announce_unaffected"),
    "stop_undelivered": ("drop", "return"),
    "counter_limit": ("wrap", "reject"),
    "expiry_panic": ("abort", "complete"),
    "stop_entries": ("forget", "keep"),
}


def test_presets_and_their_defaults() -> None:
    """R10: the seed's five keys and defaults; recommended differs in lifetime and bounds."""
    seed, rec = default_config("seed"), default_config("recommended")
    assert parse_config({}) == rec
    assert (seed.policy, rec.policy) == (SEED, RECOMMENDED)
    for cfg in (seed, rec):
        assert (cfg.batch_size, cfg.shard_count, cfg.gc_interval,
                cfg.prometheus_reporting_interval) == (1024, 1024, 180, 1.0)
        assert (cfg.retry_backoff_initial, cfg.retry_backoff_max) == (1, 300)
    assert (seed.peer_lifetime, seed.max_batch_age, seed.max_pending) == (1800, None, None)
    assert (rec.peer_lifetime, rec.max_batch_age, rec.max_pending) == (3600, 10, 1048576)


def test_policy_table_matches_the_presets() -> None:
    """R10: the seed and recommended values of every policy field (SPEC.md section 1)."""
    assert set(POLICY_ALTERNATIVES) == set(Policy.__slots__)  # type: ignore[attr-defined]
    for key, (seed_value, rec_value) in POLICY_ALTERNATIVES.items():
        assert getattr(SEED, key) == seed_value, key
        assert getattr(RECOMMENDED, key) == rec_value, key


@pytest.mark.parametrize("key", sorted(POLICY_ALTERNATIVES))
@pytest.mark.parametrize("preset", ["seed", "recommended"])
def test_every_policy_key_is_overridable(preset: str, key: str) -> None:
    """R10: a policy key overrides its preset's value and nothing else."""
    seed_value, rec_value = POLICY_ALTERNATIVES[key]
    other = rec_value if preset == "seed" else seed_value
    cfg = parse_config({"preset": preset, key: other})
    base = default_config(preset)
    assert getattr(cfg.policy, key) == other
    for name in POLICY_ALTERNATIVES:
        if name != key:
            assert getattr(cfg.policy, name) == getattr(base.policy, name)
    assert cfg.preset == preset


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("1h30m", 5400), ("500ms", Fraction(1, 2)), ("1.5h", 5400), ("0", 0),
    ("3m", 180), ("2h45m30.5s", 9930.5), ("1us", Fraction(1, 10**6)),
    ("1\u00b5s", Fraction(1, 10**6)), ("1\u03bcs", Fraction(1, 10**6)),
    ("10ns", Fraction(1, 10**8)), (".5s", Fraction(1, 2)),
    ("1.s", 1), ("+5s", 5), ("-5s", -5), ("-0", 0), ("1m1m", 120)])
def test_go_durations(text: str, seconds: Fraction | int | float) -> None:
    """R10.1: Go's time.ParseDuration syntax, exactly, in seconds."""
    assert parse_go_duration("gc_interval", text) == Fraction(seconds)


@pytest.mark.parametrize("text", ["", "5", "m", "1d", "1.5", "--5s", "1h 30m", "5S", ". s",
                                  "1e3s", "0x10s"])
def test_unparsable_durations(text: str) -> None:
    """R10.1: anything else is a ConfigError naming the key and the text."""
    with pytest.raises(ConfigError) as exc:
        parse_go_duration("peer_lifetime", text)
    assert (exc.value.key, exc.value.value) == ("peer_lifetime", text)
    assert "peer_lifetime" in str(exc.value) and repr(text) in str(exc.value)


def test_durations_in_config() -> None:
    """R10.1: strings in Go syntax or numbers of seconds; core keys in whole seconds."""
    cfg = parse_config({"gc_interval": "1h30m", "peer_lifetime": 7200,
                        "prometheus_reporting_interval": "500ms", "max_batch_age": 2.0,
                        "retry_backoff_initial": "2s", "retry_backoff_max": "1.5m"})
    assert (cfg.gc_interval, cfg.peer_lifetime, cfg.max_batch_age) == (5400, 7200, 2)
    assert cfg.prometheus_reporting_interval == 0.5
    assert (cfg.retry_backoff_initial, cfg.retry_backoff_max) == (2, 90)
    assert parse_config({"peer_lifetime": "1.5h"}).peer_lifetime == 5400


@pytest.mark.parametrize(("key", "value"), [
    ("gc_interval", "500ms"), ("peer_lifetime", "1.5s"), ("max_batch_age", 2.5),
    ("retry_backoff_initial", "1500ms"), ("retry_backoff_max", "0.5s")])
def test_core_keys_need_whole_seconds(key: str, value: object) -> None:
    """R10.1: the core's clock has one-second resolution."""
    with pytest.raises(ConfigError) as exc:
        parse_config({key: value})
    assert (exc.value.key, exc.value.value) == (key, value)
    assert "whole number of seconds" in str(exc.value)


@pytest.mark.parametrize(("key", "zero", "default"), [
    ("batch_size", 0, 1024), ("shard_count", 0, 1024), ("gc_interval", "0", 180),
    ("gc_interval", "0s", 180), ("peer_lifetime", 0, 1800),
    ("prometheus_reporting_interval", "0ms", 1.0)])
def test_zero_seed_keys_fall_back_with_a_warning(key: str, zero: object, default: object) -> None:
    """R10.2: the seed's keys at zero take the default and warn, as the seed does."""
    cfg = parse_config({"preset": "seed", key: zero})
    assert getattr(cfg, key) == default
    assert cfg.warnings == (f"{key} is zero; using the default {default}",)
    assert default_config("seed").warnings == ()
    assert cfg == default_config("seed")


@pytest.mark.parametrize("key", ["max_batch_age", "max_pending"])
def test_off_disables_the_bounds(key: str) -> None:
    """R10.2: off or null disables max_batch_age and max_pending; zero is an error."""
    assert getattr(parse_config({key: "off"}), key) is None
    assert getattr(parse_config({key: None}), key) is None
    with pytest.raises(ConfigError, match="use off to disable") as exc:
        parse_config({key: 0})
    assert (exc.value.key, exc.value.value) == (key, 0)


@pytest.mark.parametrize(("key", "value"), [
    ("retry_backoff_initial", "off"), ("retry_backoff_max", None),
    ("retry_backoff_initial", 0), ("batch_size", "off"), ("peer_lifetime", None)])
def test_keys_that_cannot_be_off_or_zero(key: str, value: object) -> None:
    """R10.2: backoffs cannot be disabled or zero; the seed's keys need a value."""
    with pytest.raises(ConfigError) as exc:
        parse_config({key: value})
    assert (exc.value.key, exc.value.value) == (key, value)


@pytest.mark.parametrize(("raw", "key", "value", "says"), [
    ({"batch_sise": 10}, "batch_sise", 10, "unknown key"),
    ({"batch_size": -1}, "batch_size", -1, "negative"),
    ({"peer_lifetime": "-30m"}, "peer_lifetime", "-30m", "negative"),
    ({"gc_interval": -5}, "gc_interval", -5, "negative"),
    ({"gc_interval": "soon"}, "gc_interval", "soon", "not a duration"),
    ({"gc_interval": [3]}, "gc_interval", [3], "duration"),
    ({"gc_interval": float("inf")}, "gc_interval", float("inf"), "finite"),
    ({"batch_size": "1024"}, "batch_size", "1024", "whole number"),
    ({"batch_size": 10.0}, "batch_size", 10.0, "whole number"),
    ({"shard_count": True}, "shard_count", True, "boolean"),
    ({"max_pending": 1.5}, "max_pending", 1.5, "whole number"),
    ({"preset": "fast"}, "preset", "fast", "must be one of"),
    ({"preset": ["seed"]}, "preset", ["seed"], "must be one of"),
    ({"event_records": "yes"}, "event_records", "yes", "true or false"),
    ({"flush_path": "sideways"}, "flush_path", "sideways", "announce"),
    ({"counter_limit": 1}, "counter_limit", 1, "must be one of"),
    ({"batch_scope": "tracker"}, "batch_scope", "tracker", "['shard', 'global']"),
    ({"retry_backoff_initial": 10, "retry_backoff_max": 5}, "retry_backoff_max", 5,
     "retry_backoff_initial"),
])
def test_invalid_configs_name_key_and_value(raw: dict[str, Any], key: str, value: object,
                                            says: str) -> None:
    """R10.3: unknown keys, wrong types, bad values: ConfigError naming key and value."""
    with pytest.raises(ConfigError) as exc:
        parse_config(raw)
    assert exc.value.key == key
    assert exc.value.value == value or exc.value.value is value
    assert says in str(exc.value)
    assert repr(key) in str(exc.value)


def test_config_root_must_be_a_mapping() -> None:
    """R10.3: a YAML document that is not a mapping is refused."""
    with pytest.raises(ConfigError) as exc:
        parse_config(["batch_size", 5])  # type: ignore[arg-type]
    assert exc.value.key == "<root>"


@pytest.mark.parametrize("raw", [
    {}, {"preset": "seed"},
    {"preset": "seed", "batch_size": 7, "shard_count": 3, "gc_interval": "90s",
     "peer_lifetime": "2h", "prometheus_reporting_interval": "250ms", "max_pending": 9,
     "max_batch_age": 4, "retry_backoff_initial": 3, "retry_backoff_max": 30,
     "flush_path": "background", "event_records": True},
    {"max_batch_age": "off", "max_pending": "off", "baseline_key": "user_torrent"},
])
def test_config_round_trips(raw: dict[str, Any]) -> None:
    """R10.4: parse_config(config_to_mapping(c)) == c, every key written explicitly."""
    cfg = parse_config(raw)
    mapping = config_to_mapping(cfg)
    assert set(mapping) == {"preset", "batch_size", "shard_count", "gc_interval",
                            "peer_lifetime", "prometheus_reporting_interval",
                            "max_batch_age", "max_pending", "retry_backoff_initial",
                            "retry_backoff_max", *POLICY_ALTERNATIVES}
    assert parse_config(mapping) == cfg
    assert all(isinstance(v, str | int | float | bool) for v in mapping.values())


def test_round_trip_of_a_mapping_is_literal() -> None:
    """R10.4: the mapping form of the seed preset, key by key."""
    assert config_to_mapping(default_config("seed")) == {
        "preset": "seed", "batch_size": 1024, "shard_count": 1024, "gc_interval": 180,
        "peer_lifetime": 1800, "prometheus_reporting_interval": 1.0,
        "retry_backoff_initial": 1, "retry_backoff_max": 300, "max_batch_age": "off",
        "max_pending": "off", "baseline_key": "user_torrent",
        "counter_decrease": "negative_delta", "started_on_known": "continue",
        "stopped_unknown": "insert_baseline", "event_records": False,
        "stale_on_announce": "revive", "purge_on_announce": True, "purge_records": False,
        "batch_scope": "shard", "flush_path": "announce", "flush_on_gc": False,
        "failed_batch": "merge",
        "handler_failure": "fail_announce", "stop_undelivered": "drop",
        "counter_limit": "wrap", "expiry_panic": "abort", "stop_entries": "forget"}


_UNITS = {"ns": Fraction(1, 10**9), "us": Fraction(1, 10**6), "ms": Fraction(1, 1000),
          "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600)}


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 999),
                          st.sampled_from(sorted(_UNITS))), min_size=1, max_size=4))
def test_go_durations_sum_their_parts(parts: list[tuple[int, int, str]]) -> None:
    """R10.1: any sequence of <whole>[.<fraction>]<unit> parts is the exact sum of them."""
    text = "".join(f"{whole}.{frac:03d}{unit}" if frac else f"{whole}{unit}"
                   for whole, frac, unit in parts)
    expected = sum((Fraction(whole) + Fraction(frac, 1000)) * _UNITS[unit]
                   for whole, frac, unit in parts)
    assert parse_go_duration("gc_interval", text) == expected
