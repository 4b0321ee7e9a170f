"""The time-series figures of one simulation (``privtrak sim --out DIR`` draws them).

``timeseries.png`` and ``timeseries.svg`` beside ``series.csv``: four
panels over simulated time (pending records with the oldest undelivered
age, modelled memory, database calls per second, announce latency p50/p99).
Every plotted number is a column of ``series.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ._figures import scale_for


def draw_run_figures(results: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw ``timeseries.png``/``.svg`` of one run's results into ``out_dir``."""
    out = Path(out_dir)
    rows = list(results["series"])
    sc = results["scenario"]
    minutes = (rows[-1]["t_end"] if rows else 0) >= 600
    tdiv, tname = (60.0, "min") if minutes else (1.0, "s")
    t = [float(r["t_end"]) / tdiv for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    ax = axes[0][0]
    ax.plot(t, [r["pending_deltas"] for r in rows], color="#1f77b4", label="pending records")
    ax.set_ylabel("pending records (records)")
    ax.set_title("Records not yet in the database")
    twin = ax.twinx()
    twin.plot(t, [r["oldest_undelivered_age"] or 0 for r in rows], color="#d62728",
              linestyle="--", label="oldest undelivered age")
    twin.set_ylabel("oldest undelivered record age (s)", color="#d62728")
    twin.grid(False)
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], fontsize=8, loc="upper left")
    # Headroom above both series, so the legend never sits on a line.
    for a in (ax, twin):
        highest = max((max(line.get_ydata(), default=0) for line in a.get_lines()), default=0)
        a.set_ylim(0, 1.35 * float(highest) or 1.0)
    ax = axes[0][1]
    mem = [float(r["modelled_memory_bytes"]) for r in rows]
    div, unit = scale_for("bytes", mem)
    ax.plot(t, [m / div for m in mem], color="#2ca02c")
    ax.set_ylabel(f"modelled memory ({unit})")
    ax.set_title("Modelled memory of the (Go) tracker's accounting path")
    ax = axes[1][0]
    calls = [float(r["handler_calls"]) / (float(r["t_end"]) - float(r["t_start"]))
             if float(r["t_end"]) > float(r["t_start"]) else 0.0 for r in rows]
    ax.plot(t, calls, color="#9467bd")
    ax.set_ylabel("database calls per second (calls/s)")
    ax.set_title("Database calls finished per second")
    ax = axes[1][1]
    p50 = [r["latency_p50"] for r in rows]
    p99 = [r["latency_p99"] for r in rows]
    top = [v for v in p99 if v is not None]
    div, unit = scale_for("s", top)
    ax.plot(t, [None if v is None else v / div for v in p50], color="#ff7f0e", label="p50")
    ax.plot(t, [None if v is None else v / div for v in p99], color="#8c564b", label="p99")
    ax.set_ylabel(f"announce answer latency ({unit})")
    ax.set_title("Announce latency (completed announces)")
    ax.legend(fontsize=8)
    # Every quantity drawn is a count, an age, a size, a rate or a latency:
    # each axis starts at zero, so a flat series does not read as a swing.
    for a in axes.flat:
        a.set_ylim(bottom=0)
    for a in axes.flat:
        a.set_xlabel(f"simulated time ({tname})")
    fig.suptitle(f"{sc['name']}: {sc['hook_mode']}, preset {sc['tracker']['preset']}, "
                 f"seed {sc['seed']} (one row of series.csv per point)", fontsize=12)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / "timeseries.png", out / "timeseries.svg"
    fig.savefig(png, dpi=100, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]
