"""The Dask path: the same runs on a local Dask cluster give the same numbers."""

from typing import Any

import pytest

from privtrak.capacity import extract, parse_study, plan, run_study

distributed = pytest.importorskip("distributed")

SPEC: dict[str, Any] = {
    "name": "dask", "replications": 2, "duration": "1m", "bucket": "5s",
    "scenario": {"workload": {"population": 300, "announce_interval": "30s", "jitter": "2s"}},
    "sweep": {"grid": {"database.connections": [1]}},
    "axis": {"key": "database.connections"},
    "thresholds": {"unstable": {"max": 0}},
}


def test_a_local_dask_cluster_runs_the_study_like_local_processes() -> None:
    study = parse_study(SPEC)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = run_study(study, dask=cluster.scheduler_address)
    local = run_study(study, workers=1)
    assert set(on_dask) == {(r.point, r.replication) for r in plan(study)}
    for key, data in local.items():
        assert extract(on_dask[key]) == extract(data)
        assert on_dask[key]["series"] == data["series"]
