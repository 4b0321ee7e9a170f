"""A small study end to end: verdict, pass/fail table, CSVs, figures, cache, check."""

import concurrent.futures as cf
import csv
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from privtrak.capacity import build_report, check, load_study, parse_study, plan, run_study
from privtrak.capacity._report import _over_credit_note
from privtrak.capacity._steady import Estimate
from privtrak.cli import main
from privtrak.sim._accounting import LOSS_CAUSES

# Offpath, recommended preset with one buffer per shard (about 1.4 records a call),
# ~25 announces/s; the database has one connection. At 1 ms a call it keeps up; at
# 2 s a call (about 18 calls/s offered) it cannot.
SPEC: dict[str, Any] = {
    "name": "small", "title": "Small study", "seed": 3, "replications": 2,
    "duration": "3m", "bucket": "5s",
    "scenario": {"tracker": {"batch_scope": "shard", "max_batch_age": None},
                 "workload": {"population": 1500, "users": 1000, "announce_interval": "60s",
                              "jitter": "5s"},
                 "database": {"connections": 1}},
    "sweep": {"grid": {"database.latency.base": ["1ms", "2s"]}},
    "axis": {"key": "database.latency.base", "label": "database latency", "unit": "s"},
    "thresholds": {"unstable": {"max": 0}, "oldest_record_age": {"max": "60s"}},
    "figures": [
        {"type": "sweep", "name": "db", "title": "Database", "analytic": True,
         "metrics": ["db_utilization", "pending_records"]},
        {"type": "timeseries", "name": "pending", "title": "Pending",
         "column": "pending_deltas", "at": {"database.latency.base": "2s"}},
    ],
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    (out / "spec.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    assert main(["report", str(out / "spec.yaml"), "--out", str(out / "r"), "--workers", "1",
                 "--no-progress"]) == 0
    return out / "r"


def test_verdict_and_pass_fail_table(report: Path) -> None:
    verdict = _rows(report / "data" / "verdict.csv")
    assert len(verdict) == 1
    assert verdict[0]["status"] == "limit"
    assert verdict[0]["database.latency.base"] == "1ms"
    table = {(r["database.latency.base"], r["metric"]): r
             for r in _rows(report / "data" / "thresholds.csv")}
    assert table[("1ms", "unstable")]["passes"] == "1"
    assert table[("2s", "unstable")]["passes"] == "0"
    assert table[("2s", "oldest_record_age")]["passes"] == "0"
    md = (report / "report.md").read_text(encoding="utf-8")
    verdict_at = md.index("## Verdict")
    assert verdict_at < md.index("## Pass/fail")
    assert "meets every threshold up to database latency 1ms; at database latency 2s it fails" in md
    assert "FAIL" in md and "The backlog grows" in md


def test_csvs_hold_the_plotted_numbers(report: Path) -> None:
    runs = _rows(report / "data" / "runs.csv")
    assert len(runs) == 4
    assert {r["replication"] for r in runs} == {"0", "1"}
    db = [r for r in _rows(report / "data" / "db.csv") if r["metric"] == "db_utilization"]
    points = {r["database.latency.base"]: r for r in _rows(report / "data" / "points.csv")}
    assert {float(r["mean"]) for r in db} == {float(points[k]["db_utilization.mean"])
                                              for k in points}
    assert all(r["closed_form"] for r in db if float(r["x"]) == 0.001)
    pending = _rows(report / "data" / "pending.csv")
    assert len(pending) == 180 // 5


def test_figures_and_self_contained_html(report: Path) -> None:
    for name in ("db", "pending"):
        png = (report / "figures" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
        assert (report / "figures" / f"{name}.svg").read_text(encoding="utf-8").startswith(
            "<?xml")
    html = (report / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert "src=\"http" not in html and "href=\"http" not in html


def test_same_spec_and_seed_give_identical_numbers(report: Path, tmp_path: Path) -> None:
    build_report(load_study(str(report.parent / "spec.yaml")), tmp_path, workers=2,
                 cache=False)
    for path in sorted((report / "data").glob("*.csv")):
        assert (tmp_path / "data" / path.name).read_bytes() == path.read_bytes(), path.name


class _Refuse(cf.Executor):
    def submit(self, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        raise AssertionError("a cached run was simulated again")


def test_finished_runs_are_cached_and_not_rerun(report: Path) -> None:
    study = parse_study(SPEC)
    results = run_study(study, cache_dir=report / ".cache", executor=_Refuse())
    assert set(results) == {(r.point, r.replication) for r in plan(study)}


def test_check_finds_a_changed_number(report: Path, tmp_path: Path) -> None:
    assert check(report, runs=1) == []
    copy = tmp_path / "copy"
    (copy / "data").mkdir(parents=True)
    (copy / "study.yaml").write_bytes((report / "study.yaml").read_bytes())
    lines = (report / "data" / "runs.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("offered_rate")
    cheapest = min(range(1, len(lines)), key=lambda i: float(lines[i].split(",")[col]))
    cells = lines[cheapest].split(",")
    cells[header.index("pending_records")] = "1.5"
    lines[cheapest] = ",".join(cells)
    (copy / "data" / "runs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = check(copy, runs=1)
    assert len(problems) == 1 and "runs.csv" in problems[0]
    assert main(["report", "--check", str(copy), "--runs", "1"]) == 1


def test_bad_spec_exits_2_naming_the_key(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("sweep: {grid: {database.conections: [1]}}\naxis: {key: x}\n",
                    encoding="utf-8")
    assert main(["report", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "database.conections" in err and "database.connections" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv", [
    ["report", "--out", "x", "--workers", "0"],
    ["report", "--runs", "1", "--out", "x"],
    ["report", "builtin:memory", "--check", "reports/memory"],
    ["report", "builtin:memory"],
])
def test_impossible_command_lines_exit_3(argv: list[str]) -> None:
    assert main(argv) == 3


def test_unknown_builtin_study_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "builtin:memroy", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "memroy" in err and "memory" in err


def test_full_check_reruns_the_study_and_compares_every_csv(report: Path,
                                                            tmp_path: Path) -> None:
    assert check(report) == []
    copy = tmp_path / "copy"
    (copy / "data").mkdir(parents=True)
    (copy / "study.yaml").write_bytes((report / "study.yaml").read_bytes())
    for path in (report / "data").glob("*.csv"):
        (copy / "data" / path.name).write_bytes(path.read_bytes())
    verdict = copy / "data" / "verdict.csv"
    verdict.write_text(verdict.read_text(encoding="utf-8").replace("limit", "at least"),
                       encoding="utf-8")
    (copy / "data" / "pending.csv").unlink()
    problems = check(copy)
    assert sorted(p.split(":")[0] for p in problems) == ["data/pending.csv",
                                                         "data/verdict.csv"]


def test_a_negative_loss_share_is_explained_only_where_one_is_shown() -> None:
    def outcome(shared_key: float) -> Any:
        shares = {f"lost_{c}_share": Estimate(0.01, 0.0, 2) for c in LOSS_CAUSES}
        shares["lost_shared_key_share"] = Estimate(shared_key, 0.0, 2)
        return SimpleNamespace(points=[SimpleNamespace(estimates=shares)])

    assert "A negative share is credit beyond" in _over_credit_note(outcome(-0.2))
    assert _over_credit_note(outcome(0.03)) == ""
