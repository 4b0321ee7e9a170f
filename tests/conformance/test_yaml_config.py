"""config_yaml: the configuration in the seed's YAML form (Go durations)."""

from __future__ import annotations

import re

import pytest
import yaml

from privtrak.conformance import load_strict, packaged_vector_files
from privtrak.conformance._yaml_config import DURATION_KEYS, config_yaml, go_duration
from privtrak.reference import config_to_mapping, parse_config


@pytest.mark.parametrize(("seconds", "text"), [
    (180, "3m0s"), (1800, "30m0s"), (3600, "1h0m0s"), (90, "1m30s"), (1.0, "1s"),
    (0.5, "500ms"), (1.5, "1.5s"), (0.0015, "1.5ms"), (0, "0s"), (5400.25, "1h30m0.25s"),
])
def test_durations_are_written_as_go_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_every_packaged_config_reads_back_from_its_yaml() -> None:
    for path in packaged_vector_files():
        for case in load_strict(path):
            text = config_yaml(config_to_mapping(case.config))
            assert parse_config(yaml.safe_load(text)) == case.config, case.id
            durations = [line.split(": ", 1)[1] for line in text.splitlines()
                         if line.split(":")[0] in DURATION_KEYS]
            assert all(d == '"off"' or re.fullmatch(r"([0-9.]+[hms]+)+", d)
                       for d in durations), durations
