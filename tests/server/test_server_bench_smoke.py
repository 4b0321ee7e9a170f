"""The server benchmark scripts run and write what they document (no figure
asserted beyond what any working run gives)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_bench_serve_reports_each_rate() -> None:
    out = subprocess.run([sys.executable, str(BENCH / "serve.py"), "--rates", "100",
                          "--duration", "1"], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    report = json.loads(out)
    (run,) = report["runs"]
    assert run["rate"] == 100 and run["load"]["answered"] == 100
    assert run["load"]["responses"]["ok"] == 100
    assert run["server_cpu_us_per_announce"] > 0
    assert len(report["loadavg_before"]) == 3


def test_bench_server_vs_sim_writes_table_figure_and_json(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(BENCH / "server_vs_sim.py"), "--rate", "100",
                          "--duration", "10", "--delay", "0.2", "--batch-size", "10",
                          "--out", str(tmp_path)],
                         check=True, capture_output=True, text=True, timeout=180).stdout
    printed = json.loads(out)
    assert [r["quantity"] for r in printed["comparison"]] == [
        "throughput (answered announces/s)", "p99 latency (s)", "pending growth (records/s)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "README.md", "comparison.json", "figure.png", "scenario.json"]
    report = json.loads((tmp_path / "comparison.json").read_text())
    assert report["measured"]["load"]["answered"] == 1000
    assert 90 <= report["predicted"]["throughput_per_s"] <= 100
    # The sink drains 10 records per 0.2 s: both see pending records grow.
    assert report["predicted"]["pending_growth_per_s"] > 0
    assert report["measured"]["pending_growth_per_s"] > 0
    assert "| pending growth (records/s) |" in (tmp_path / "README.md").read_text()
