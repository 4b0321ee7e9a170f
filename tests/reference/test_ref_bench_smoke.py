"""The core benchmark script runs and prints the documented JSON (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "core.py"


def test_bench_core_prints_figures_for_both_presets() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--users", "300", "--repeat", "1"],
                          check=True, capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    assert report["announces_per_run"] == 1200
    assert report["mode"] == "custom" and report["memory_users"] == 300
    assert report["command"].endswith("core.py --users 300 --repeat 1")
    assert set(report["presets"]) == {"seed", "recommended"}
    for figures in report["presets"].values():
        for mode in ("gc_default", "gc_frozen"):
            assert figures[mode]["update"]["core_per_s"] > 0
            assert figures[mode]["insert"]["core_per_s"] > 0
            assert figures[mode]["requests"]["build_per_s"] > 0
        memory = figures["memory"]
        assert memory["entries"] == 1200
        assert 0 < memory["bytes_per_entry"] < memory["bytes_per_entry_with_identifier"]
        # A torrent per entry shares no infohash object: it cannot cost less.
        assert memory["one_torrent_per_entry"]["bytes_per_entry"] > memory["bytes_per_entry"]
    assert "tracemalloc" in report["definitions"]["memory.bytes_per_entry"]
    assert report["process_peak_rss_bytes"] > 0
    # stderr is not a terminal here: one plain progress line per step, in order.
    lines = done.stderr.splitlines()
    assert lines[0].startswith("bench/core.py [1/10] seed gc_default run 1/1")
    assert lines[-2].startswith("bench/core.py [10/10] recommended memory, one torrent")
    assert lines[-1].startswith("bench/core.py done in") and "\r" not in done.stderr


def test_bench_core_refuses_a_non_positive_count() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--users", "0"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--users must be at least 1, got 0" in done.stderr
