"""Running a study end to end: plan, execute (cached), analyse, write, check."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from privtrak._usage import progress_bar

from ._analysis import Outcome, analyse
from ._execute import Cache, Run, dask_executor, execute, local_executor, plan
from ._metrics import extract
from ._report import Header, csv_text, run_row, write_report
from ._spec import Study, load_study


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _executor(workers: int, dask: str | None) -> Iterator[cf.Executor]:
    if dask is not None:
        with dask_executor(dask) as ex:
            yield ex
    else:
        with local_executor(workers) as ex:
            yield ex


def run_study(study: Study, *, workers: int | None = None, dask: str | None = None,
              cache_dir: Path | None = None, progress: bool = False,
              executor: cf.Executor | None = None,
              runs: list[Run] | None = None,
              on_done: Callable[[Run, bool], None] | None = None,
              ) -> dict[tuple[int, int], Any]:
    """The results of every run of ``study`` (or of ``runs``), from the cache or simulated.

    ``executor`` overrides ``workers``/``dask``. With ``progress``, a progress bar
    goes to stderr when it is a terminal.
    """
    todo = plan(study) if runs is None else runs
    bar = progress_bar(len(todo), stream=sys.stderr, enabled=progress, unit="run",
                       desc=f"report {study.name}")

    def done(run: Run, cached: bool) -> None:
        bar.update(1)
        if on_done is not None:
            on_done(run, cached)

    try:
        if executor is not None:
            return execute(todo, executor, Cache(cache_dir), done)
        with _executor(workers or default_workers(), dask) as ex:
            return execute(todo, ex, Cache(cache_dir), done)
    finally:
        bar.close()


def build_report(study: Study, out: Path, *, workers: int | None = None,
                 dask: str | None = None, cache: bool = True, progress: bool = False,
                 command: str = "", executor: cf.Executor | None = None) -> Outcome:
    """Run ``study`` and write its report into ``out``; returns the analysis."""
    started = time.perf_counter()
    cached = [0, 0]

    def count(_run: Run, from_cache: bool) -> None:
        cached[0 if from_cache else 1] += 1

    results = run_study(study, workers=workers, dask=dask,
                        cache_dir=(out / ".cache") if cache else None, progress=progress,
                        executor=executor, on_done=count)
    outcome = analyse(study, results)
    wall = time.perf_counter() - started
    local = workers or default_workers()
    where = (f"Dask at {dask}" if dask
             else f"{local} local process" + ("" if local == 1 else "es"))
    write_report(outcome, out, Header(wall, where, command, simulated=cached[1],
                                      from_cache=cached[0]))
    return outcome


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def check(report_dir: Path, *, runs: int | None = None, workers: int | None = None) -> list[str]:
    """Differences between a committed report and a fresh run of its ``study.yaml``.

    With ``runs`` = N, only the N cheapest runs (fewest announces offered, by
    the committed ``data/runs.csv``) are simulated again and their rows of
    ``data/runs.csv`` compared; otherwise the whole study is rerun (no cache)
    and every CSV under ``data/`` is compared. An empty list means identical.
    """
    study = load_study(str(report_dir / "study.yaml"))
    committed = _read_csv((report_dir / "data" / "runs.csv").read_text(encoding="utf-8"))
    if runs is not None:
        header, body = committed[0], committed[1:]
        offered = header.index("offered_rate")
        body = sorted(body, key=lambda r: (float(r[offered]) if r[offered] else 0.0,
                                           int(r[0]), int(r[1])))[:runs]
        everything = {(r.point, r.replication): r for r in plan(study)}
        chosen = [everything[(int(r[0]), int(r[1]))] for r in body]
        results = run_study(study, workers=workers or 1, runs=chosen)
        fresh = _partial_rows(study, results)
        problems = []
        for row in body:
            got = fresh.get((int(row[0]), int(row[1])))
            if got != row:
                problems.append(f"data/runs.csv point {row[0]} replication {row[1]}: "
                                f"committed {row} but a fresh run gives {got}")
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        build_report(study, Path(tmp), workers=workers, cache=False)
        problems = []
        for path in sorted((report_dir / "data").glob("*.csv")):
            new = Path(tmp) / "data" / path.name
            if not new.exists():
                problems.append(f"data/{path.name}: not produced by a fresh run")
            elif new.read_text(encoding="utf-8") != path.read_text(encoding="utf-8"):
                problems.append(f"data/{path.name}: differs from a fresh run")
        for new in sorted((Path(tmp) / "data").glob("*.csv")):
            if not (report_dir / "data" / new.name).exists():
                problems.append(f"data/{new.name}: produced by a fresh run but not committed")
        return problems


def _partial_rows(study: Study, results: dict[tuple[int, int], Any]) -> dict[
        tuple[int, int], list[str]]:
    """The ``data/runs.csv`` rows of the runs in ``results`` (same formatting)."""
    rows: dict[tuple[int, int], list[str]] = {}
    for (point, rep), data in results.items():
        values, _ = extract(data)
        text = csv_text([run_row(study, study.points[point], rep, values)])
        rows[(point, rep)] = _read_csv(text)[0]
    return rows
