"""The committed sample reports regenerate with identical numbers.

Rerunning whole studies takes minutes, so each sample's cheapest run is
simulated again and its row of ``data/runs.csv`` compared with the
committed one (``privtrak report --check DIR`` reruns a whole study).
"""

from pathlib import Path

import pytest

from privtrak.capacity import check

REPORTS = Path(__file__).resolve().parents[2] / "reports"
SAMPLES = ("slow-handler", "memory", "staleness", "accuracy")


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_report_is_committed_whole(name: str) -> None:
    d = REPORTS / name
    for rel in ("study.yaml", "report.md", "report.html", "data/runs.csv",
                "data/verdict.csv", "data/thresholds.csv", "data/accounting.csv"):
        assert (d / rel).is_file(), f"{name}/{rel} missing"
    assert list((d / "figures").glob("*.png")) and list((d / "figures").glob("*.svg"))


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_report_regenerates_its_cheapest_run(name: str) -> None:
    assert check(REPORTS / name, runs=1) == [], (
        f"regenerate with: privtrak report reports/{name}/study.yaml --out reports/{name}")
