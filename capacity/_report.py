"""Writing a study's report folder: report.md, report.html, figures/, data/.

Layout of ``DIR``::

    study.yaml              the spec, as given
    report.md, report.html  the verdict, tables, figures (HTML is self-contained)
    figures/NAME.png|svg    one pair per figure of the spec
    data/NAME.csv           the numbers of each figure
    data/runs.csv           every metric of every run (point, replication, seed)
    data/points.csv         mean and 95 % interval of every metric per point
    data/thresholds.csv     the pass/fail table
    data/verdict.csv        each configuration's limit
    data/accounting.csv     bytes lost by cause, share of bytes transferred

Only the header of the report (machine, Python, wall time) changes between
two runs of the same spec and seed; every CSV is identical.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privtrak import __version__
from privtrak.sim import LOSS_CAUSES

from ._analysis import ConfigOutcome, Outcome, PointOutcome
from ._analytic import ANALYTIC_FOR
from ._document import Block, Bullets, Code, Heading, Image, Para, Table, to_html, to_markdown
from ._execute import replication_seed
from ._figures import capacity_value, config_label, draw
from ._metrics import METRICS, format_value
from ._spec import Point, Study


def _num(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def csv_text(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for row in rows:
        w.writerow([_num(v) for v in row])
    return out.getvalue()


def _assign_cols(study: Study) -> list[str]:
    return [k for k, _ in study.points[0].assignment]


def runs_header(study: Study) -> list[Any]:
    """The header of ``data/runs.csv``."""
    return ["point", "replication", "seed", *_assign_cols(study), *METRICS]


def run_row(study: Study, point: Point, replication: int,
            values: dict[str, float]) -> list[Any]:
    """One row of ``data/runs.csv``: a run's every metric."""
    return [point.index, replication, replication_seed(study.seed, replication),
            *[v for _, v in point.assignment], *[values[n] for n in METRICS]]


def runs_rows(outcome: Outcome) -> list[list[Any]]:
    """``data/runs.csv``: one row per run, every metric."""
    study = outcome.study
    rows: list[list[Any]] = [runs_header(study)]
    for o in outcome.points:
        for r, values in enumerate(o.per_replication):
            rows.append(run_row(study, o.point, r, values))
    return rows


def _points_rows(outcome: Outcome) -> list[list[Any]]:
    study = outcome.study
    header = ["point", *_assign_cols(study), "unstable"]
    for n in METRICS:
        header += [f"{n}.mean", f"{n}.ci_half_width"]
    for n in ANALYTIC_FOR:
        header.append(f"{n}.closed_form")
    rows: list[list[Any]] = [header]
    for o in outcome.points:
        row: list[Any] = [o.point.index, *[v for _, v in o.point.assignment], int(o.unstable)]
        for n in METRICS:
            row += [o.estimates[n].mean, o.estimates[n].half_width]
        row += [o.analytic[n] for n in ANALYTIC_FOR]
        rows.append(row)
    return rows


def _estimate_text(o: PointOutcome, metric: str) -> str:
    e, unit = o.estimates[metric], METRICS[metric].unit
    if math.isnan(e.half_width):
        return format_value(e.mean, unit)
    return f"{format_value(e.mean, unit)} ± {format_value(e.half_width, unit)}"


def _axis_text(study: Study, o: PointOutcome) -> str:
    raw = o.point.value(study.axis.key)
    if study.axis.per != 1:
        raw = f"{study.axis_value(o.point):g}"
    unit = study.axis.unit
    text = f"{raw} {unit}" if unit and unit != "s" else f"{study.axis.label} {raw}"
    if study.axis.x_metric:
        text += f" ({_estimate_text(o, study.axis.x_metric)})"
    return text


def _limit_sentence(study: Study, c: ConfigOutcome) -> str:
    if c.limit is None:
        first = c.points[0]
        return (f"fails already at the easiest point tested, {_axis_text(study, first)} "
                f"({_failures(study, first)})")
    reach = "up to" if study.axis.harder == "higher" else "down to"
    if c.all_pass:
        return (f"meets every threshold at every tested point, {reach} "
                f"{_axis_text(study, c.limit)}")
    nxt = c.points[c.points.index(c.limit) + 1]
    return (f"meets every threshold {reach} {_axis_text(study, c.limit)}; at "
            f"{_axis_text(study, nxt)} it fails ({_failures(study, nxt)})")


def _failures(study: Study, o: PointOutcome) -> str:
    """The thresholds a point misses, with the value and the bound."""
    parts = []
    for t, (metric, ok, _) in zip(study.thresholds, o.checks, strict=True):
        if not ok:
            unit = METRICS[metric].unit
            parts.append(f"{METRICS[metric].label} {_estimate_text(o, metric)}, "
                         f"{t.bound} {format_value(t.value, unit)}")
    return "; ".join(parts)


def verdict_lines(outcome: Outcome) -> list[str]:
    """The verdict as plain lines for a terminal."""
    study = outcome.study
    lines = [f"{study.title}:"]
    for group, best in outcome.recommendations:
        where = f"with {config_label(group)}" if group else "recommendation"
        if best is None:
            lines.append(f"  {where}: no tested configuration meets every threshold")
        else:
            rest = tuple((k, v) for k, v in best.configuration if k not in study.group_by)
            lines.append(f"  {where}: use {config_label(rest)}: "
                         f"{_limit_sentence(study, best)}".replace("**", ""))
    for c in outcome.configurations:
        lines.append(f"  {config_label(c.configuration)}: {_limit_sentence(study, c)}")
    return lines


def verdict_blocks(outcome: Outcome) -> list[Block]:
    study = outcome.study
    blocks: list[Block] = [Heading(2, "Verdict")]
    recs = []
    for group, best in outcome.recommendations:
        where = (f"With {config_label(group)}" if group else "Recommendation")
        if best is None:
            recs.append(f"{where}: **no tested configuration meets every threshold**, even "
                        "at the easiest point; change the design or relax the thresholds.")
        else:
            rest = tuple((k, v) for k, v in best.configuration if k not in study.group_by)
            recs.append(f"{where}: use **{config_label(rest)}**: {_limit_sentence(study, best)}.")
    blocks.append(Bullets(tuple(recs)))
    extreme = "highest" if study.axis.harder == "higher" else "lowest"
    blocks.append(Para(f"Each configuration (the {extreme} {study.axis.label} meeting every "
                       "threshold, walking from the easiest point):"))
    blocks.append(Bullets(tuple(f"`{config_label(c.configuration)}`: "
                                f"{_limit_sentence(study, c)}."
                                for c in outcome.configurations)))
    unstable = [c for c in outcome.configurations if any(o.unstable for o in c.points)]
    if unstable:
        items = []
        for c in unstable:
            bad = [o for o in c.points if o.unstable]
            growth = max(o.estimates["pending_growth"].mean for o in bad)
            items.append(f"`{config_label(c.configuration)}` at "
                         + ", ".join(_axis_text(study, o).split(" (")[0] for o in bad)
                         + f" (pending records grow by up to "
                           f"{format_value(growth, 'records/s')})")
        blocks.append(Para("**The backlog grows** (the simulator judges at least one "
                           "replication unstable: pending records or the age of the oldest "
                           "undelivered record keep rising over the second half of the run, "
                           "so the figures there are snapshots of a growing quantity, not "
                           "steady values):"))
        blocks.append(Bullets(tuple(items)))
    else:
        blocks.append(Para("Every simulated point was stable: neither pending records nor "
                           "the age of the oldest undelivered record kept rising over the "
                           "second half of any run."))
    return blocks


def _threshold_rows(outcome: Outcome) -> tuple[Table, list[list[Any]]]:
    study = outcome.study
    header = ["configuration", study.axis.label]
    header += [f"{t.metric} ({t.bound} {format_value(t.value, METRICS[t.metric].unit)})"
               for t in study.thresholds]
    header += ["backlog", "point"]
    rows = []
    csv_rows: list[list[Any]] = [["point", *_assign_cols(study), "metric", "bound", "threshold",
                                  "mean", "ci_low", "ci_high", "passes", "marginal"]]
    for c in outcome.configurations:
        for o in c.points:
            cells = [config_label(c.configuration), _axis_text(study, o)]
            for t, (metric, ok, marginal) in zip(study.thresholds, o.checks, strict=True):
                word = "pass" if ok else "FAIL"
                if marginal:
                    word = "pass (marginal)"
                cells.append(f"{word}: {_estimate_text(o, metric)}")
                e = o.estimates[metric]
                csv_rows.append([o.point.index, *[v for _, v in o.point.assignment], metric,
                                 t.bound, t.value, e.mean, e.low, e.high, int(ok),
                                 int(marginal)])
            cells.append("grows" if o.unstable else "stable")
            cells.append(str(o.point.index))
            rows.append(tuple(cells))
    return Table(tuple(header), tuple(rows)), csv_rows


def _over_credit_note(outcome: Outcome) -> str:
    """What a negative share means, said only where one is shown."""
    if not any(o.estimates[f"lost_{c}_share"].mean < 0
               for o in outcome.points for c in LOSS_CAUSES):
        return ""
    return (" A negative share is credit beyond what was transferred: baselines "
            "keyed without the peer id mix the counters of two clients "
            "(shared_key), which credits some bytes twice and loses others, and "
            "the share is the net of both. 'all lost' is the sum of the causes, "
            "so such over-credit offsets losses in it.")


def _accounting(outcome: Outcome) -> tuple[Table, list[list[Any]]]:
    study = outcome.study
    causes = [c for c in LOSS_CAUSES
              if any(o.estimates[f"lost_{c}_share"].mean != 0 for o in outcome.points)]
    header = ("configuration", study.axis.label, "all lost", *causes, "duplicated")
    rows = []
    csv_rows: list[list[Any]] = [["point", *_assign_cols(study), "cause", "share_mean",
                                  "share_ci_half_width"]]
    for c in outcome.configurations:
        for o in c.points:
            rows.append((config_label(c.configuration), _axis_text(study, o),
                         _estimate_text(o, "uncredited_share"),
                         *[_estimate_text(o, f"lost_{k}_share") for k in causes],
                         _estimate_text(o, "duplicated_share")))
    for o in outcome.points:
        for k in (*LOSS_CAUSES, "duplicated"):
            name = f"lost_{k}_share" if k != "duplicated" else "duplicated_share"
            csv_rows.append([o.point.index, *[v for _, v in o.point.assignment], k,
                             o.estimates[name].mean, o.estimates[name].half_width])
    return Table(header, tuple(rows)), csv_rows


def _verdict_rows(outcome: Outcome) -> list[list[Any]]:
    study = outcome.study
    rows: list[list[Any]] = [["configuration", "limit_point", study.axis.key, "status",
                              "x_metric", "x_mean", "x_ci_low", "x_ci_high"]]
    for c in outcome.configurations:
        v, lo, hi, status = capacity_value(study, c)
        rows.append([config_label(c.configuration),
                     "" if c.limit is None else c.limit.point.index,
                     "" if c.limit is None else c.limit.point.value(study.axis.key), status,
                     study.axis.x_metric or study.axis.key, v, lo, hi])
    return rows


@dataclass(frozen=True, slots=True)
class Header:
    """What varies between two runs of the same spec: it stays in the report header only."""

    wall_seconds: float
    workers: str
    command: str
    simulated: int = 0
    """Runs simulated by this invocation (the others came from the cache)."""
    from_cache: int = 0


def write_report(outcome: Outcome, out: Path, header: Header) -> list[Path]:
    """Write the whole report folder; returns the files written."""
    study = outcome.study
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(rel: str, text: str) -> None:
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)

    put("study.yaml", study.text)
    figure_blocks: list[Block] = [Heading(2, "Figures")]
    for fig in study.figures:
        paths, rows = draw(outcome, fig, out / "figures")
        written.extend(paths)
        put(f"data/{fig.name}.csv", csv_text(rows))
        figure_blocks.append(Image(f"figures/{fig.name}.png",
                                   f"{fig.title}. Numbers: data/{fig.name}.csv; vector: "
                                   f"figures/{fig.name}.svg"))
    threshold_table, threshold_csv = _threshold_rows(outcome)
    accounting_table, accounting_csv = _accounting(outcome)
    put("data/runs.csv", csv_text(runs_rows(outcome)))
    put("data/points.csv", csv_text(_points_rows(outcome)))
    put("data/thresholds.csv", csv_text(threshold_csv))
    put("data/verdict.csv", csv_text(_verdict_rows(outcome)))
    put("data/accounting.csv", csv_text(accounting_csv))
    first = study.points[0].scenario
    blocks: list[Block] = [
        Heading(1, study.title),
        Para(study.question) if study.question else Para(""),
        Table(("study", "seed", "replications", "runs", "privtrak", "Python", "machine",
               "wall time", "workers"),
              ((f"`{study.name}` (study.yaml)", str(study.seed), str(study.replications),
                str(len(study.points) * study.replications), __version__,
                platform.python_version(), f"{platform.machine()} {platform.system()}, "
                f"{_cores()} cores", f"{header.wall_seconds:.0f} s", header.workers),)),
        Para(f"Command: `{header.command}`. Each run simulates "
             f"{first.duration:.0f} s in {first.bucket:.0f} s buckets. This invocation "
             f"simulated {header.simulated} runs and took {header.from_cache} from the cache "
             "of earlier ones; the wall time covers this invocation only."),
        *verdict_blocks(outcome),
        Heading(2, "Pass/fail against the thresholds"),
        Para("Mean over replications ± the 95 % Student-t half-width. A point passes when "
             "every mean meets its bound; 'marginal' means the interval crosses the bound. "
             "'grows': the simulator judged at least one replication unstable (pending "
             "records or the oldest undelivered age grow over the second half of the run)."),
        threshold_table,
        Heading(2, "Bytes uncredited, by cause"),
        Para("Share of all bytes transferred (up and down) that no database will ever "
             "credit, per cause of the simulator's accounting identity; 'duplicated' is "
             "credited twice and is outside the identity. Bytes still pending or not yet "
             "announced at the end of a run are not losses and are not counted here."
             + _over_credit_note(outcome)),
        accounting_table,
        *figure_blocks,
        Heading(2, "Method"),
        Bullets((
            f"{study.replications} replications per point; replication r uses seed "
            "sha256('privtrak.capacity/SEED/r') for every point (common random numbers: "
            "configurations are compared on the same workloads).",
            "Warm-up removal: MSER-5 (White, Cobb and Spratt 2000), per metric and "
            "replication, on 5-bucket batch means, truncating at most half the run.",
            "Steady metrics are time averages after warm-up; peaks and losses cover the "
            "whole run; growth is the least-squares slope over the second half.",
            "Closed forms (dashed): the database as a c-server queue fed by the batch rate, "
            "Erlang C (M/M/c) with the Allen-Cunneen correction for the call-time "
            "distribution (M/D/c for a constant call time), Little's law for pending "
            "records, shard-lock utilisation from the announce rate; they leave out on-path "
            "deliveries under locks, the flusher's poll and retries, which is where "
            "simulation and theory part.",
            "Memory is the modelled memory of the simulated (Go) tracker's accounting path "
            "(privtrak sim's cost model), not of this process.",
        )),
        Code(study.text, "The study spec (study.yaml)"),
    ]
    put("report.md", to_markdown(blocks))
    put("report.html", to_html(blocks, study.title, out))
    return written


def _cores() -> int:
    return os.cpu_count() or 1


def python_line() -> str:
    return sys.version.split()[0]
