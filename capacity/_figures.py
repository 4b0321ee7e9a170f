"""The report's figures (matplotlib, Agg): PNG and SVG, with the numbers as CSV.

Every figure returns the rows it plotted, so the CSV beside it holds exactly
the numbers a reader sees. Bands are 95 % Student-t intervals over the
replications; dashed lines are closed forms (:mod:`._analytic`); red dotted
lines are the study's thresholds; hollow markers are points where the
backlog grows (unstable).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from ._analysis import ConfigOutcome, Outcome, PointOutcome
from ._analytic import ANALYTIC_FOR
from ._metrics import METRICS
from ._spec import Figure, Study, axis_number
from ._steady import t_interval

plt.rcParams.update({"svg.hashsalt": "privtrak", "font.size": 10, "axes.grid": True,
                     "grid.alpha": 0.3, "figure.dpi": 110})
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), "-.")
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#17becf", "#7f7f7f", "#bcbd22")


def config_label(conf: Sequence[tuple[str, Any]]) -> str:
    """A configuration in words: ``hook_mode=posthook, connections=4``."""
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in conf) or "base scenario"


def scale_for(unit: str, values: Sequence[float]) -> tuple[float, str]:
    """(divisor, axis unit) that keeps tick labels short."""
    finite = [abs(v) for v in values if not math.isnan(v) and math.isfinite(v)]
    top = max(finite) if finite else 0.0
    if unit == "bytes":
        for div, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
            if top >= div:
                return float(div), name
        return 1.0, "bytes"
    if unit == "fraction":
        return 0.01, "%"
    if unit == "s" and 0 < top < 1:
        return 0.001, "ms"
    return 1.0, unit


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    fig.savefig(png, dpi=110, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]


def _x(study: Study, fig: Figure, o: PointOutcome) -> tuple[float, float, float]:
    if fig.x == "axis":
        v = study.axis_value(o.point)
        return v, v, v
    e = o.estimates[fig.x]
    return e.mean, e.low, e.high


def marker_size(index: int, count: int) -> float:
    """Marker size of the ``index``-th of ``count`` configurations: the first
    drawn is the largest, each later one smaller, down to 4 points."""
    return max(4.0, 5.0 + 2.0 * (count - 1 - index))


def axis_label(label: str, unit: str) -> str:
    """``label (unit)``, unless the label already names its unit as a word."""
    words = re.findall(r"[A-Za-z%]+", label)
    if not unit or unit in words:
        return label
    return f"{label} ({unit})"


def _x_label(study: Study, fig: Figure) -> tuple[str, float]:
    if fig.x == "axis":
        unit = study.axis.unit
        if unit == "s":
            values = [study.axis_value(p) for p in study.points]
            div, name = scale_for("s", values)
            return f"{study.axis.label} ({name})", div
        return axis_label(study.axis.label, unit), 1.0
    m = METRICS[fig.x]
    return f"{m.label} ({m.unit})", 1.0


def sweep_figure(outcome: Outcome, fig: Figure, out: Path) -> tuple[list[Path], list[list[Any]]]:
    """One panel per metric against the axis (or a metric), one line per configuration."""
    study = outcome.study
    n = len(fig.metrics)
    cols = 1 if n == 1 else 2
    rows_n = math.ceil(n / cols)
    f, axes = plt.subplots(rows_n, cols, figsize=(6.4 * cols, 4.2 * rows_n), squeeze=False)
    x_label, x_div = _x_label(study, fig)
    rows: list[list[Any]] = []
    for i, metric in enumerate(fig.metrics):
        ax = axes[i // cols][i % cols]
        m = METRICS[metric]
        everything = [o.estimates[metric].high for o in outcome.points] + [
            t.value for t in study.thresholds if t.metric == metric]
        div, unit = scale_for(m.unit, everything)
        for ci, conf in enumerate(outcome.configurations):
            color = COLORS[ci % len(COLORS)]
            pts = sorted(conf.points, key=lambda o: _x(study, fig, o)[0])
            xs = [_x(study, fig, o)[0] / x_div for o in pts]
            est = [o.estimates[metric] for o in pts]
            ys = [e.mean / div for e in est]
            lo = [(e.low if not math.isnan(e.half_width) else e.mean) / div for e in est]
            hi = [(e.high if not math.isnan(e.half_width) else e.mean) / div for e in est]
            label = config_label(conf.configuration)
            # Markers shrink with each configuration drawn, so configurations
            # whose points coincide stay visible as nested markers.
            size = marker_size(ci, len(outcome.configurations))
            ax.plot(xs, ys, marker=MARKERS[ci % len(MARKERS)], color=color, label=label,
                    linewidth=1.6, markersize=size)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0)
            bad = [(x, y) for x, y, o in zip(xs, ys, pts, strict=True) if o.unstable]
            if bad:
                # The ring takes its configuration's colour: where points of
                # several configurations coincide, it must say which one grows.
                ax.plot([b[0] for b in bad], [b[1] for b in bad], linestyle="none",
                        marker="o", markersize=size + 6, markerfacecolor="none",
                        markeredgecolor=color, markeredgewidth=1.4, zorder=4)
            theory = None
            if fig.analytic and metric in ANALYTIC_FOR:
                theory = [o.analytic[metric] / div for o in pts]
                ax.plot(xs, theory, linestyle="--", color=color, linewidth=1.2, alpha=0.9)
            for j, o in enumerate(pts):
                e = o.estimates[metric]
                rows.append([metric, m.unit, label, xs[j] * x_div, e.mean, e.low, e.high,
                             o.analytic.get(metric, math.nan) if theory is not None
                             else math.nan, int(o.unstable)])
        for t in study.thresholds:
            if t.metric == metric:
                ax.axhline(t.value / div, color="red", linestyle=":", linewidth=1.4)
                ax.annotate(f"threshold ({t.bound})", xy=(0.99, t.value / div),
                            xycoords=("axes fraction", "data"), ha="right", va="bottom",
                            color="red", fontsize=8)
        for r in study.references:
            if r.metric == metric:
                ax.axhline(r.value / div, color="dimgray", linestyle="-.", linewidth=1.1)
                ax.annotate(r.label, xy=(0.01, r.value / div),
                            xycoords=("axes fraction", "data"), ha="left", va="bottom",
                            color="dimgray", fontsize=8)
        ax.set_xlabel(x_label)
        ax.set_ylabel(f"{m.label} ({unit})")
        ax.set_title(m.label, fontsize=10)
        if fig.log_x:
            ax.set_xscale("log")
        if fig.log_y:
            ax.set_yscale("log")
    for j in range(n, rows_n * cols):
        axes[j // cols][j % cols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    extra: list[Artist] = []
    if fig.analytic and any(m in ANALYTIC_FOR for m in fig.metrics):
        extra.append(Line2D([], [], color="gray", linestyle="--", label="closed form"))
    if any(o.unstable for o in outcome.points):
        extra.append(Line2D([], [], color="gray", marker="o", markerfacecolor="none",
                                linestyle="none", markersize=10,
                                label="ring: backlog grows (in its line's colour)"))
    extra.append(Rectangle((0, 0), 1, 1, color="gray", alpha=0.2, label="95 % interval"))
    f.legend(handles + extra, labels + [e.get_label() for e in extra], loc="lower center",
             ncol=min(3, len(labels) + len(extra)), bbox_to_anchor=(0.5, -0.02),
             frameon=False, fontsize=9)
    f.suptitle(fig.title, fontsize=12)
    legend_rows = math.ceil((len(labels) + len(extra)) / 3)
    f.tight_layout(rect=(0, (0.25 + 0.22 * legend_rows) / (4.2 * rows_n), 1, 0.97))
    header = ["metric", "unit", "configuration", "x", "mean", "ci_low", "ci_high",
              "closed_form", "unstable"]
    return _save(f, out, fig.name), [header, *rows]


_COLUMN_UNITS = {"pending_deltas": ("records", "pending records"),
                 "modelled_memory_bytes": ("bytes", "modelled memory"),
                 "in_flight_tasks": ("tasks", "tasks in flight"),
                 "oldest_undelivered_age": ("s", "oldest undelivered record age"),
                 "handler_calls": ("calls/s", "database calls per second"),
                 "completed": ("announces/s", "completed announces per second"),
                 "latency_p99": ("s", "p99 announce latency")}


def timeseries_figure(outcome: Outcome, fig: Figure,
                      out: Path) -> tuple[list[Path], list[list[Any]]]:
    """One series column over simulated time, one line per configuration at ``fig.at``."""
    unit, label = _COLUMN_UNITS[fig.column]
    chosen = [o for o in outcome.points
              if all(str(o.point.value(k)) == str(v) for k, v in fig.at)]
    per_second = unit.endswith("/s")
    lines = []
    for o in chosen:
        buckets = [r for r in o.series[0] if float(r["t_start"]) < o.point.scenario.duration]
        xs, means, lows, highs = [], [], [], []
        for b, row in enumerate(buckets):
            width = float(row["t_end"]) - float(row["t_start"])
            vals = []
            for series in o.series:
                v = series[b][fig.column]
                if v is not None:
                    vals.append(float(v) / width if per_second else float(v))
            if not vals:
                continue
            e = t_interval(vals)
            xs.append(float(row["t_end"]))
            means.append(e.mean)
            lows.append(e.low if not math.isnan(e.half_width) else e.mean)
            highs.append(e.high if not math.isnan(e.half_width) else e.mean)
        lines.append((config_label(tuple((k, v) for k, v in o.point.assignment
                                          if k not in dict(fig.at))), xs, means, lows, highs))
    div, shown = scale_for(unit, [h for line in lines for h in line[4]])
    span = max((x for line in lines for x in line[1]), default=0.0)
    tdiv, tname = (60.0, "min") if span >= 600 else (1.0, "s")
    f, ax = plt.subplots(figsize=(8, 4.6))
    rows: list[list[Any]] = []
    for i, (name, xs, means, lows, highs) in enumerate(lines):
        color = COLORS[i % len(COLORS)]
        ax.plot([x / tdiv for x in xs], [m / div for m in means], color=color, label=name,
                linewidth=1.8, linestyle=LINESTYLES[i % len(LINESTYLES)])
        ax.fill_between([x / tdiv for x in xs], [v / div for v in lows],
                        [v / div for v in highs], color=color, alpha=0.18, linewidth=0)
        rows.extend([fig.column, unit, name, x, m, lo, hi]
                    for x, m, lo, hi in zip(xs, means, lows, highs, strict=True))
    ax.set_xlabel(f"simulated time ({tname})")
    ax.set_ylabel(f"{label} ({shown})")
    if fig.log_y:
        ax.set_yscale("log")
    at_text = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in fig.at)
    ax.set_title(f"{fig.title}" + (f"\n({at_text}; mean of replications, 95 % band)"
                                   if at_text else ""), fontsize=11)
    ax.legend(fontsize=9, loc="best")
    f.tight_layout()
    header = ["column", "unit", "configuration", "t_end_s", "mean", "ci_low", "ci_high"]
    return _save(f, out, fig.name), [header, *rows]


def capacity_value(study: Study, conf: ConfigOutcome) -> tuple[float, float, float, str]:
    """(value, low, high, status) of a configuration's limit in the axis's x units.

    status: ``limit`` (a limit was found inside the sweep), ``at least`` (every
    point passed), ``below`` (the easiest point failed: value is nan).
    """
    if conf.limit is None:
        return math.nan, math.nan, math.nan, "below"
    status = "at least" if conf.all_pass else "limit"
    if study.axis.x_metric:
        e = conf.limit.estimates[study.axis.x_metric]
        return e.mean, e.low, e.high, status
    v = study.axis_value(conf.limit.point)
    return v, v, v, status


def capacity_figure(outcome: Outcome, fig: Figure,
                    out: Path) -> tuple[list[Path], list[list[Any]]]:
    """Each configuration's limit against one configuration key, one line per combination
    of the other configuration keys."""
    study = outcome.study
    groups: dict[str, list[tuple[float, ConfigOutcome]]] = {}
    for conf in outcome.configurations:
        d = dict(conf.configuration)
        rest = tuple((k, v) for k, v in conf.configuration if k != fig.x)
        groups.setdefault(config_label(rest), []).append(
            (float(study_number(d[fig.x])), conf))
    unit = METRICS[study.axis.x_metric].unit if study.axis.x_metric else study.axis.unit
    y_label = (METRICS[study.axis.x_metric].label if study.axis.x_metric
               else study.axis.label)
    f, ax = plt.subplots(figsize=(8, 4.6))
    rows: list[list[Any]] = []
    for i, (name, members) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        members.sort(key=lambda m: m[0])
        xs, ys, lo, hi = [], [], [], []
        for x, conf in members:
            v, low, high, status = capacity_value(study, conf)
            rows.append([name, fig.x, x, v, low, high, status])
            if math.isnan(v):
                continue
            xs.append(x)
            ys.append(v)
            lo.append(low)
            hi.append(high)
            if status == "at least":
                ax.annotate("≥", (x, v), textcoords="offset points",
                            xytext=(6 + 8 * i, 4), color=color)
        ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], color=color, label=name,
                linewidth=1.6, linestyle=LINESTYLES[i % len(LINESTYLES)],
                markersize=marker_size(i, len(groups)))
        ax.errorbar(xs, ys, yerr=[[y - a for y, a in zip(ys, lo, strict=True)],
                                  [b - y for y, b in zip(ys, hi, strict=True)]],
                    fmt="none", ecolor=color, capsize=4)
    ax.set_xlabel(fig.x.split(".")[-1].replace("_", " "))
    ticks = sorted({x for members in groups.values() for x, _ in members})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_ylabel(f"capacity: {y_label} ({unit})" if len(y_label) < 30
                  else f"capacity ({unit})")
    f.text(0.01, 0.01, f"capacity: the highest {y_label} at which every threshold is met",
           fontsize=8, color="dimgray")
    ax.set_title(fig.title + "\n(\u2265: every tested load passed; bars: 95 % interval)",
                 fontsize=11)
    ax.set_ylim(bottom=0)
    if fig.log_x:
        ax.set_xscale("log", base=2)
    ax.legend(fontsize=9)
    f.tight_layout()
    header = ["line", "x_key", "x", "capacity", "ci_low", "ci_high", "status"]
    return _save(f, out, fig.name), [header, *rows]


def study_number(value: object) -> float:
    """A configuration value as a number for a capacity figure's x axis."""
    return axis_number("figure x", value)


def draw(outcome: Outcome, fig: Figure, out: Path) -> tuple[list[Path], list[list[Any]]]:
    """Draw one figure of the study into ``out``; returns its files and CSV rows."""
    if fig.type == "sweep":
        return sweep_figure(outcome, fig, out)
    if fig.type == "timeseries":
        return timeseries_figure(outcome, fig, out)
    return capacity_figure(outcome, fig, out)
