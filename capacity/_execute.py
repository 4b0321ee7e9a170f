"""Running a study's simulations: seeds, the results cache, local or Dask workers.

A run is one (point, replication). Replication ``r`` of every point uses the
same seed, derived from the study seed (:func:`replication_seed`), so the
configurations are compared on the same workloads (common random numbers)
while the replications of a point are independent.

Runs go to a :class:`concurrent.futures.Executor`: a local
:class:`~concurrent.futures.ProcessPoolExecutor` (``workers``) or a Dask
cluster's executor (``distributed.Client(address).get_executor()``); both
are driven by the same loop. A finished run is written to the cache at once,
keyed by the scenario with every default filled in, the seed, the project
version and a fingerprint of the simulator's and the reference's source
(:func:`code_fingerprint`), so an interrupted study resumes where it stopped
and a changed simulator never serves stale results.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import hashlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import privtrak.reference
import privtrak.sim
from privtrak import __version__
from privtrak.sim import parse_scenario
from privtrak.sim import run as run_scenario

from ._spec import Study


def source_fingerprint(packages: dict[str, Path]) -> str:
    """SHA-256 over the ``*.py`` files under each package folder: package name,
    path inside it and content of every file, in sorted order."""
    digest = hashlib.sha256()
    for name, root in sorted(packages.items()):
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """:func:`source_fingerprint` of the packages a run's results depend on
    (``privtrak.sim`` and ``privtrak.reference``): any edit to either changes
    every cache key."""
    return source_fingerprint({p.__name__: Path(p.__file__ or "").parent
                               for p in (privtrak.sim, privtrak.reference)})


def replication_seed(study_seed: int, replication: int) -> int:
    """The simulator seed of replication ``replication`` (the same for every point)."""
    digest = hashlib.sha256(f"privtrak.capacity/{study_seed}/{replication}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class Run:
    """One simulation of a study: a point and a replication."""

    point: int
    replication: int
    seed: int
    scenario: dict[str, Any]

    @property
    def key(self) -> str:
        """The cache key: scenario (defaults filled in), seed, project version and
        :func:`code_fingerprint`."""
        text = json.dumps({"scenario": self.scenario, "seed": self.seed,
                           "version": __version__, "code": code_fingerprint()},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def plan(study: Study) -> list[Run]:
    """Every run of the study, in a fixed order (point, then replication)."""
    return [Run(p.index, r, replication_seed(study.seed, r), p.scenario.to_data())
            for p in study.points for r in range(study.replications)]


def simulate(scenario: dict[str, Any], seed: int) -> dict[str, Any]:
    """One simulation (runs in a worker process or on a Dask worker): the content of
    its ``results.json``."""
    result = run_scenario(parse_scenario(scenario), seed=seed)
    return result.to_data()


def _quiet_worker() -> None:
    """Workers ignore Ctrl-C: the parent decides what stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Cache:
    """Finished runs as JSON files named by their key."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def get(self, run: Run) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        path = self.directory / f"{run.key}.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def put(self, run: Run, results: dict[str, Any]) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{run.key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(results, sort_keys=True), encoding="utf-8")
        tmp.replace(self.directory / f"{run.key}.json")


class Interrupted(Exception):
    """The study was stopped by Ctrl-C; finished runs are in the cache."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} runs")
        self.done = done
        self.total = total


@contextlib.contextmanager
def local_executor(workers: int) -> Iterator[cf.Executor]:
    """A process pool of ``workers`` processes that ignore Ctrl-C."""
    pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=_quiet_worker)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def dask_executor(address: str) -> Iterator[cf.Executor]:
    """The executor of the Dask cluster at ``address`` (``distributed`` client)."""
    from distributed import Client  # noqa: PLC0415 (heavy; only when --dask is given)

    client = Client(address)  # type: ignore[no-untyped-call]
    try:
        yield client.get_executor()  # type: ignore[no-untyped-call]
    finally:
        client.close()  # type: ignore[no-untyped-call]


def execute(runs: list[Run], executor: cf.Executor, cache: Cache,
            on_done: Callable[[Run, bool], None] | None = None) -> dict[tuple[int, int], Any]:
    """Results of every run, from the cache or from ``executor``.

    ``on_done(run, cached)`` is called as each run finishes. Ctrl-C cancels
    the runs not started, waits for the running ones (they are cached) and
    raises :class:`Interrupted`.
    """
    results: dict[tuple[int, int], Any] = {}
    todo: list[Run] = []
    for run in runs:
        cached = cache.get(run)
        if cached is not None:
            results[(run.point, run.replication)] = cached
            if on_done is not None:
                on_done(run, True)
        else:
            todo.append(run)
    futures: dict[cf.Future[dict[str, Any]], Run] = {}
    try:
        for run in todo:
            futures[executor.submit(simulate, run.scenario, run.seed)] = run
        for future in cf.as_completed(futures):
            run = futures[future]
            data = future.result()
            cache.put(run, data)
            results[(run.point, run.replication)] = data
            if on_done is not None:
                on_done(run, False)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        print("\nprivtrak report: interrupted; waiting for the running simulations "
              "(finished runs are cached, run the same command again to resume)",
              file=sys.stderr)
        for future, run in futures.items():
            if not future.cancelled():
                with contextlib.suppress(Exception):
                    cache.put(run, future.result())
        raise Interrupted(len(results), len(runs)) from None
    return results
