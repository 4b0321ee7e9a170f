"""Scenarios: what to simulate, validated before anything runs.

A scenario is a YAML mapping with these top-level keys (README.md lists
every key with its default)::

    name, description, seed, duration, bucket, start_epoch, hook_mode,
    tracker, tracker_model, workload, database, memory

``tracker`` holds the reference's configuration keys exactly as
:func:`privtrak.reference.parse_config` reads them. Every other key is the
simulator's. :func:`parse_scenario` turns the mapping into a frozen
:class:`Scenario` or raises :class:`ScenarioError` naming the dotted key and
the value; unknown keys are refused at every level. Missing keys take the
defaults below, so ``{}`` is a valid (small) scenario.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from privtrak.reference import Config, ConfigError, Seconds, config_to_mapping, parse_config

from ._dists import Dist, constant
from ._errors import ScenarioError
from ._overrides import apply_overrides
from ._reader import Section, check_seed

HOOK_MODES = ("prehook", "posthook", "offpath")
"""Where the accounting runs relative to the announce response (README.md)."""


@dataclass(frozen=True, slots=True)
class FlashCrowd:
    """New torrents released at ``at``; arrivals decay as ``rate * exp(-(t-at)/decay)``."""

    at: float
    initial_rate: float
    decay: float
    torrents: int


@dataclass(frozen=True, slots=True)
class Workload:
    """The virtual clients: who they are, when they come, what they transfer."""

    users: int = 2000
    torrents: int = 500
    popularity: float = 0.8
    """Zipf exponent of torrent popularity; 0 is uniform."""
    population: int = 5000
    """Sessions already running at time 0 and kept steady (each is replaced when it ends)."""
    warm_start: bool = True
    """The tracker already holds the initial population's baselines at time 0."""
    arrival_rate: float = 0.0
    """Extra sessions per second, Poisson."""
    flash_crowd: FlashCrowd | None = None
    announce_interval: float = 1800.0
    jitter: float = 60.0
    """Each regular announce is moved by a uniform amount in [-jitter, +jitter]."""
    late_fraction: float = 0.0
    late_delay: Dist = field(default_factory=lambda: Dist("exponential", 1800.0))
    second_client_fraction: float = 0.0
    leecher_fraction: float = 0.5
    size: Dist = field(default_factory=lambda: Dist("lognormal", 1.5e9, 1.0))
    download_rate: Dist = field(default_factory=lambda: Dist("lognormal", 2e6, 1.0))
    upload_rate: Dist = field(default_factory=lambda: Dist("lognormal", 5e5, 1.0))
    seeding_time: Dist = field(default_factory=lambda: Dist("weibull", 0.6, 21600.0))
    vanish_fraction: float = 0.1
    restart_fraction: float = 0.02
    rejoin_gap: Dist = field(default_factory=lambda: Dist("exponential", 600.0))


@dataclass(frozen=True, slots=True)
class TrackerModel:
    """Time and contention the simulator adds around the reference core."""

    service_time: Dist = field(default_factory=lambda: constant(5e-5))
    """Seconds an announce holds its shard lock (without a flush)."""
    client_timeout: float = 30.0
    retry_delay: float = 15.0
    """First retry after a failure or timeout; doubles per failure, capped at the interval."""
    flusher_parallel: int = 4
    flusher_poll: float = 1.0
    stop_at_end: bool = False
    """At the end, run the tracker's stop/close sequence (deliver, then drop or return)."""


@dataclass(frozen=True, slots=True)
class Outage:
    """A window during which every database call fails."""

    start: float
    duration: float


@dataclass(frozen=True, slots=True)
class DatabaseModel:
    """The DeltaHandler: P connections, latency base + per_record x n, failures."""

    connections: int = 4
    base_latency: float = 0.005
    per_record_latency: float = 2e-5
    jitter: Dist = field(default_factory=lambda: Dist("lognormal", 1.0, 0.2))
    """Multiplies each call's latency."""
    failure_probability: float = 0.0
    failure_after_commit_probability: float = 0.0
    outages: tuple[Outage, ...] = ()
    outage_fail_after: float = 1.0
    dedup_batches: bool = False


@dataclass(frozen=True, slots=True)
class MemoryModel:
    """Bytes the simulated tracker spends per item (Go figures, README.md cites them)."""

    record_bytes: int = 48
    delta_bytes: int = 88
    task_bytes: int = 2048
    request_bytes: int = 8192
    base_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario. Build it with :func:`parse_scenario`."""

    name: str = "unnamed"
    description: str = ""
    seed: int = 1
    duration: float = 3600.0
    bucket: float = 60.0
    start_epoch: Seconds = Seconds(1_700_000_000)
    """The core's clock at simulated time 0."""
    hook_mode: str = "offpath"
    tracker: Config = field(default_factory=lambda: parse_config({}))
    tracker_model: TrackerModel = field(default_factory=TrackerModel)
    workload: Workload = field(default_factory=Workload)
    database: DatabaseModel = field(default_factory=DatabaseModel)
    memory: MemoryModel = field(default_factory=MemoryModel)

    def with_overrides(self, *, seed: int | None = None,
                       duration: float | None = None) -> Scenario:
        """A copy with ``seed`` and/or ``duration`` replaced (command-line overrides)."""
        out = self
        if seed is not None:
            out = replace(out, seed=check_seed("seed", seed))
        if duration is not None:
            if duration <= 0:
                raise ScenarioError("duration", duration, "must be positive")
            out = replace(out, duration=float(duration))
        return out

    def to_data(self) -> dict[str, Any]:
        """The scenario as plain, canonical data (every default filled in)."""
        w, tm, db, mem = self.workload, self.tracker_model, self.database, self.memory
        fc = w.flash_crowd
        return {
            "name": self.name, "description": self.description, "seed": self.seed,
            "duration": self.duration, "bucket": self.bucket, "start_epoch": self.start_epoch,
            "hook_mode": self.hook_mode,
            "tracker": config_to_mapping(self.tracker),
            "tracker_model": {
                "service_time": tm.service_time.to_data(),
                "client_timeout": tm.client_timeout, "retry_delay": tm.retry_delay,
                "flusher": {"parallel": tm.flusher_parallel, "poll": tm.flusher_poll},
                "stop_at_end": tm.stop_at_end,
            },
            "workload": {
                "users": w.users, "torrents": w.torrents, "popularity": w.popularity,
                "population": w.population, "warm_start": w.warm_start,
                "arrivals": {"rate": w.arrival_rate},
                "flash_crowd": None if fc is None else {
                    "at": fc.at, "initial_rate": fc.initial_rate, "decay": fc.decay,
                    "torrents": fc.torrents},
                "announce_interval": w.announce_interval, "jitter": w.jitter,
                "late": {"fraction": w.late_fraction, "delay": w.late_delay.to_data()},
                "second_client_fraction": w.second_client_fraction,
                "leecher_fraction": w.leecher_fraction,
                "size": w.size.to_data(), "download_rate": w.download_rate.to_data(),
                "upload_rate": w.upload_rate.to_data(),
                "seeding_time": w.seeding_time.to_data(),
                "vanish_fraction": w.vanish_fraction, "restart_fraction": w.restart_fraction,
                "rejoin_gap": w.rejoin_gap.to_data(),
            },
            "database": {
                "connections": db.connections,
                "latency": {"base": db.base_latency, "per_record": db.per_record_latency,
                            "jitter": db.jitter.to_data()},
                "failure_probability": db.failure_probability,
                "failure_after_commit_probability": db.failure_after_commit_probability,
                "outages": [{"start": o.start, "duration": o.duration} for o in db.outages],
                "outage_fail_after": db.outage_fail_after,
                "dedup_batches": db.dedup_batches,
            },
            "memory": {"record_bytes": mem.record_bytes, "delta_bytes": mem.delta_bytes,
                       "task_bytes": mem.task_bytes, "request_bytes": mem.request_bytes,
                       "base_bytes": mem.base_bytes},
        }


def parse_scenario(raw: object) -> Scenario:
    """Validate a decoded YAML mapping into a :class:`Scenario`.

    Raises :class:`ScenarioError` naming the first offending key (dotted) and
    its value; nothing else is raised for bad input.
    """
    top = Section("", raw)
    defaults = Scenario()
    seed = check_seed("seed", top.get("seed")) if top.has("seed") else defaults.seed
    hook_mode = top.text("hook_mode", defaults.hook_mode)
    if hook_mode not in HOOK_MODES:
        raise ScenarioError("hook_mode", hook_mode, f"must be one of {list(HOOK_MODES)}")
    start_epoch = Seconds(top.integer("start_epoch", defaults.start_epoch))
    scenario = Scenario(
        name=top.text("name", defaults.name),
        description=top.text("description", defaults.description),
        seed=seed,
        duration=top.number("duration", defaults.duration, duration=True, positive=True),
        bucket=top.number("bucket", defaults.bucket, duration=True, positive=True),
        start_epoch=start_epoch,
        hook_mode=hook_mode,
        tracker=_parse_tracker(top),
        tracker_model=_parse_tracker_model(top.section("tracker_model")),
        workload=_parse_workload(top.section("workload")),
        database=_parse_database(top.section("database")),
        memory=_parse_memory(top.section("memory")),
    )
    top.done()
    return scenario


def _parse_tracker(top: Section) -> Config:
    raw = top.get("tracker")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ScenarioError("tracker", raw, "must be a mapping of reference config keys")
    # A simulated tracker keeps running: where the seed's expiry loop would
    # panic (SPEC.md R7.3) it purges and goes on, unless the scenario says
    # otherwise (and then a panic ends the run with Unmodelled).
    raw = {"expiry_panic": "complete", **raw}
    try:
        return parse_config(raw)
    except ConfigError as exc:
        raise ScenarioError(f"tracker.{exc.key}", exc.value, exc.why) from None


def _parse_tracker_model(s: Section) -> TrackerModel:
    d = TrackerModel()
    flusher = s.section("flusher")
    model = TrackerModel(
        service_time=s.dist("service_time", d.service_time, duration=True),
        client_timeout=s.number("client_timeout", d.client_timeout, duration=True,
                                positive=True),
        retry_delay=s.number("retry_delay", d.retry_delay, duration=True),
        flusher_parallel=flusher.integer("parallel", d.flusher_parallel, positive=True),
        flusher_poll=flusher.number("poll", d.flusher_poll, duration=True, positive=True),
        stop_at_end=s.boolean("stop_at_end", d.stop_at_end),
    )
    flusher.done()
    s.done()
    return model


def _parse_workload(s: Section) -> Workload:
    d = Workload()
    arrivals = s.section("arrivals")
    arrival_rate = arrivals.number("rate", d.arrival_rate)
    arrivals.done()
    late = s.section("late")
    late_fraction = late.fraction("fraction", d.late_fraction)
    late_delay = late.dist("delay", d.late_delay, duration=True)
    late.done()
    flash: FlashCrowd | None = None
    if s.has("flash_crowd"):
        fc = s.section("flash_crowd")
        flash = FlashCrowd(
            at=fc.number("at", 0.0, duration=True),
            initial_rate=fc.number("initial_rate", 1.0, positive=True),
            decay=fc.number("decay", 1800.0, duration=True, positive=True),
            torrents=fc.integer("torrents", 1, positive=True),
        )
        fc.done()
    interval = s.number("announce_interval", d.announce_interval, duration=True, positive=True)
    jitter = s.number("jitter", d.jitter, duration=True)
    if jitter >= interval:
        raise ScenarioError(s.key("jitter"), s.get("jitter"),
                            f"must be smaller than announce_interval ({interval} s)")
    work = Workload(
        users=s.integer("users", d.users, positive=True),
        torrents=s.integer("torrents", d.torrents, positive=True),
        popularity=s.number("popularity", d.popularity),
        population=s.integer("population", d.population),
        warm_start=s.boolean("warm_start", d.warm_start),
        arrival_rate=arrival_rate,
        flash_crowd=flash,
        announce_interval=interval,
        jitter=jitter,
        late_fraction=late_fraction,
        late_delay=late_delay,
        second_client_fraction=s.fraction("second_client_fraction", d.second_client_fraction),
        leecher_fraction=s.fraction("leecher_fraction", d.leecher_fraction),
        size=s.dist("size", d.size, allow_zero=False),
        download_rate=s.dist("download_rate", d.download_rate, allow_zero=False),
        upload_rate=s.dist("upload_rate", d.upload_rate),
        seeding_time=s.dist("seeding_time", d.seeding_time, duration=True),
        vanish_fraction=s.fraction("vanish_fraction", d.vanish_fraction),
        restart_fraction=s.fraction("restart_fraction", d.restart_fraction),
        rejoin_gap=s.dist("rejoin_gap", d.rejoin_gap, duration=True),
    )
    s.done()
    return work


def _parse_database(s: Section) -> DatabaseModel:
    d = DatabaseModel()
    latency = s.section("latency")
    base = latency.number("base", d.base_latency, duration=True)
    per_record = latency.number("per_record", d.per_record_latency, duration=True)
    jitter = latency.dist("jitter", d.jitter)
    latency.done()
    outages: list[Outage] = []
    if s.has("outages"):
        raw = s.get("outages")
        if not isinstance(raw, list):
            raise ScenarioError("database.outages", raw,
                                "must be a list of {start, duration} mappings")
        for i, item in enumerate(raw):
            o = Section(f"database.outages[{i}]", item)
            outages.append(Outage(o.number("start", 0.0, duration=True),
                                  o.number("duration", 60.0, duration=True, positive=True)))
            o.done()
    p_fail = s.fraction("failure_probability", d.failure_probability)
    p_after = s.fraction("failure_after_commit_probability",
                         d.failure_after_commit_probability)
    if p_fail + p_after > 1.0:
        raise ScenarioError("database.failure_after_commit_probability", p_after,
                            f"plus failure_probability ({p_fail}) must not exceed 1")
    model = DatabaseModel(
        connections=s.integer("connections", d.connections, positive=True),
        base_latency=base, per_record_latency=per_record, jitter=jitter,
        failure_probability=p_fail, failure_after_commit_probability=p_after,
        outages=tuple(sorted(outages, key=lambda o: (o.start, o.duration))),
        outage_fail_after=s.number("outage_fail_after", d.outage_fail_after, duration=True),
        dedup_batches=s.boolean("dedup_batches", d.dedup_batches),
    )
    s.done()
    return model


def _parse_memory(s: Section) -> MemoryModel:
    d = MemoryModel()
    model = MemoryModel(
        record_bytes=s.integer("record_bytes", d.record_bytes),
        delta_bytes=s.integer("delta_bytes", d.delta_bytes),
        task_bytes=s.integer("task_bytes", d.task_bytes),
        request_bytes=s.integer("request_bytes", d.request_bytes),
        base_bytes=s.integer("base_bytes", d.base_bytes),
    )
    s.done()
    return model


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read and validate a scenario YAML file, with ``--set`` style
    ``overrides`` (``"dotted.key=value"``) applied first; errors name the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError("<file>", str(p), f"cannot be read: {exc.strerror}") from None
    return scenario_from_yaml(text, source=str(p), overrides=overrides)


def scenario_from_yaml(text: str, source: str = "<scenario>",
                       overrides: Sequence[str] = ()) -> Scenario:
    """Parse YAML ``text``, apply ``overrides`` (``"dotted.key=value"``) and
    validate; ``source`` names the text in errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError("<file>", source, f"is not valid YAML: {exc}") from None
    if overrides:
        raw = apply_overrides(raw, overrides)
    return parse_scenario({} if raw is None else raw)


SCENARIO_NAMES = ("default", "steady_state", "flash_crowd", "slow_database", "db_outage",
                  "posthook_explosion", "seed_vs_recommended_seed",
                  "seed_vs_recommended_recommended")
"""The scenarios shipped in ``privtrak/sim/scenarios/``."""


def builtin_scenario_text(name: str = "default") -> str:
    """The YAML text of a shipped scenario; raises ScenarioError for an unknown name."""
    if name not in SCENARIO_NAMES:
        raise ScenarioError("<scenario>", name, f"no shipped scenario; known: {SCENARIO_NAMES}")
    return (resources.files("privtrak.sim") / "scenarios" / f"{name}.yaml").read_text(
        encoding="utf-8")


def builtin_scenario(name: str = "default", overrides: Sequence[str] = ()) -> Scenario:
    """A shipped scenario, validated (``default`` is what ``privtrak sim`` runs),
    with ``overrides`` (``"dotted.key=value"``) applied first."""
    return scenario_from_yaml(builtin_scenario_text(name), source=f"<builtin {name}>",
                              overrides=overrides)
