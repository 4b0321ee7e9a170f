"""The core benchmark script runs and prints the documented JSON (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "core.py"


def test_bench_core_prints_figures_for_both_presets() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--users", "300", "--repeat", "1"],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    report = json.loads(out)
    assert report["announces_per_run"] == 1200
    assert set(report["presets"]) == {"seed", "recommended"}
    for figures in report["presets"].values():
        for mode in ("gc_default", "gc_frozen"):
            assert figures[mode]["update"]["core_per_s"] > 0
            assert figures[mode]["insert"]["core_per_s"] > 0
            assert figures[mode]["requests"]["build_per_s"] > 0
        memory = figures["memory"]
        assert memory["entries"] == 1200
        assert 0 < memory["bytes_per_entry"] < memory["bytes_per_entry_with_identifier"]
