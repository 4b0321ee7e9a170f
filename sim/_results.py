"""What a run produces, and the files it is written to.

``results.json`` holds everything (scenario with defaults filled in,
summary, final accounting, queueing figures, the core's metrics, the series);
``series.csv`` and ``accounting.csv`` repeat the series and the accounting
as tables; ``summary.md`` is the human summary. Nothing depends on the wall
clock, so the same scenario and seed give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._accounting import CAUSES
from ._stats import SERIES_COLUMNS
from ._summary import summary_text

FORMAT = "privtrak.sim/1"


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The outcome of :func:`privtrak.sim.run`; plain data throughout."""

    scenario: dict[str, Any]
    partial: bool
    """True when the run was interrupted before its duration."""
    simulated_seconds: float
    summary: dict[str, Any]
    accounting: dict[str, Any]
    queueing: dict[str, Any]
    database: dict[str, Any]
    tracker_metrics: dict[str, Any]
    series: list[dict[str, Any]]
    stability: dict[str, Any]
    """The verdict on the second half of the run (``_stability.py``)."""
    rates: dict[str, Any]
    """Database calls per second, records per call, connection and shard-lock utilization."""
    latency: dict[str, Any]
    """Answer latency over the whole run: count, p50, p90, p99, max (seconds)."""
    memory: dict[str, Any]
    """``measures`` (in words) and ``peak_bytes`` of the modelled memory."""
    bytes: dict[str, Any]
    """The accounting identity in bytes, up and down added, term by term."""

    @property
    def conserved(self) -> bool:
        """Whether transferred == credited + pending + returned + unreported + lost."""
        return bool(self.accounting["conservation"]["holds"])

    def row(self, name: str) -> tuple[int, int]:
        """(up, down) of one accounting row, e.g. ``"lost.vanished"``."""
        r = self.accounting["rows"][name]
        return int(r["up"]), int(r["down"])

    def to_data(self) -> dict[str, Any]:
        """The content of ``results.json``."""
        return {
            "format": FORMAT, "partial": self.partial,
            "simulated_seconds": self.simulated_seconds, "scenario": self.scenario,
            "summary": self.summary, "accounting": self.accounting,
            "queueing": self.queueing, "database": self.database,
            "tracker_metrics": self.tracker_metrics, "series": self.series,
            "stability": self.stability, "rates": self.rates, "latency": self.latency,
            "memory": self.memory, "bytes": self.bytes,
        }

    def results_json(self) -> str:
        """``results.json`` as text (sorted keys, stable floats)."""
        return json.dumps(self.to_data(), indent=2, sort_keys=True) + "\n"

    def series_csv(self) -> str:
        """``series.csv`` as text: one row per bucket, SERIES_COLUMNS."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(SERIES_COLUMNS)
        for row in self.series:
            w.writerow(["" if row[c] is None else row[c] for c in SERIES_COLUMNS])
        return out.getvalue()

    def accounting_csv(self) -> str:
        """``accounting.csv`` as text: row, up, down."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(("row", "up", "down"))
        for name in CAUSES:
            r = self.accounting["rows"][name]
            w.writerow((name, r["up"], r["down"]))
        return out.getvalue()

    def summary_text(self) -> str:
        """The human summary (what ``privtrak sim`` prints; ``summary.md``)."""
        return summary_text(self)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write results.json, series.csv, accounting.csv and summary.md into
        ``out_dir`` (created if missing)."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in (("results.json", self.results_json()),
                           ("series.csv", self.series_csv()),
                           ("accounting.csv", self.accounting_csv()),
                           ("summary.md", self.summary_text() + "\n")):
            p = d / name
            p.write_text(text, encoding="utf-8")
            paths.append(p)
        return paths
