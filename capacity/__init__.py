"""privtrak.capacity: capacity studies and the reports an operator reads.

Typical use::

    from pathlib import Path
    from privtrak.capacity import build_report, load_study

    study = load_study("builtin:default")      # or a YAML spec file
    outcome = build_report(study, Path("out/"), workers=2)
    for config in outcome.configurations:
        print(config.configuration, config.limit)

A study (``README.md`` beside this package's source) sweeps dotted scenario
keys of the simulator, replicates each point with seeds derived from the
study seed, removes warm-up with MSER-5, states 95 % intervals, checks
thresholds and writes ``report.md``, ``report.html``, figures and CSVs.
"""

from __future__ import annotations

from ._analysis import ConfigOutcome, Outcome, PointOutcome, analyse
from ._analytic import database_queue, erlang_c, max_record_rate
from ._execute import Cache, Interrupted, Run, plan, replication_seed, simulate
from ._metrics import METRICS, Metric, extract
from ._overrides import check_key, get_dotted, merge
from ._runfigures import draw_run_figures
from ._spec import STUDY_NAMES, Study, StudyError, load_study, parse_study
from ._steady import Estimate, mser5_truncation, t_cdf, t_interval, t_quantile
from ._study import build_report, check, run_study

__all__ = [
    "METRICS",
    "STUDY_NAMES",
    "Cache",
    "ConfigOutcome",
    "Estimate",
    "Interrupted",
    "Metric",
    "Outcome",
    "PointOutcome",
    "Run",
    "Study",
    "StudyError",
    "analyse",
    "build_report",
    "check",
    "check_key",
    "database_queue",
    "draw_run_figures",
    "erlang_c",
    "extract",
    "get_dotted",
    "load_study",
    "max_record_rate",
    "merge",
    "mser5_truncation",
    "parse_study",
    "plan",
    "replication_seed",
    "run_study",
    "simulate",
    "t_cdf",
    "t_interval",
    "t_quantile",
]
